#!/bin/sh
# Install pgbouncer, the one system package the Redshift stand-in needs.
# Idempotent: does nothing when pgbouncer is already on PATH. The Debian package's own
# service is kept from starting (we run our own instance with our own ini on our own port).
set -eu

PATH="$PATH:/usr/sbin:/sbin"
if command -v pgbouncer >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "pgbouncer is missing: run 'sudo sh sandbox/redshift/install.sh' (or 'sudo apt-get install -y pgbouncer')" >&2
    exit 1
fi

# policy-rc.d exit 101 tells invoke-rc.d not to start services during the install.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends pgbouncer

if [ "$created_policy" -eq 1 ]; then
    rm -f "$policy"
fi
# Under systemd the unit may still be enabled: keep it off so port 6432 stays free.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl disable --now pgbouncer >/dev/null 2>&1 || true
fi
