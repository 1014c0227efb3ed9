#!/bin/sh
# Install headless Chromium, which the tests use to load the dbt docs site as a person would.
# Idempotent: does nothing when chromium is on PATH. Debian's package, not a browser download.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is missing: run 'sudo apt-get install -y chromium' (needed by the docs-site test)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium
