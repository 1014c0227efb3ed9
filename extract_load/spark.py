"""One Spark session with Delta Lake, configured from the environment's config file.

The same warehouse and metastore settings are written for dbt (`spark_conf`) so that the
loaders and dbt see one catalog. Embedded Derby admits one process at a time: a second process
gets a clear error instead of Derby's stack trace.
"""
from __future__ import annotations

import logging
import os
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from extract_load.cluster import metastore, storage
from extract_load.config import Config
from extract_load.errors import ConfigError, LoadError
from extract_load.jars import jar_paths, missing_profiles

log = logging.getLogger(__name__)

_LOCAL_DEFAULTS = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
    "spark.databricks.delta.retentionDurationCheck.enabled": "true",
    # Delta keeps the real schema in its log and a placeholder in the Hive metastore; without this,
    # every CREATE OR REPLACE of a Delta table logs a harmless "ERROR HiveAlterHandler".
    "spark.hadoop.hive.metastore.disallow.incompatible.col.type.changes": "false",
}


def jar_profiles(config: Config) -> list[str]:
    """The connector jar profiles (jars/pom.xml) the environment needs beyond Delta's."""
    return sorted(set(storage.jar_profiles(config)) | set(metastore.jar_profiles(config)))


def spark_conf(config: Config) -> dict[str, str]:
    """Every Spark setting the environment needs: Delta, jars, storage, warehouse, metastore, overrides.

    Holds the metastore database password when there is one: never log the result.
    Raises ConfigError when a needed jar is not fetched yet (naming the command that fetches it).
    """
    profiles = tuple(jar_profiles(config))
    jars = jar_paths(profiles=profiles)
    if not jars:
        raise ConfigError(".cache/jars: the Delta Lake jars are missing; run `make setup` first")
    missing = missing_profiles(profiles)
    if missing:
        raise ConfigError(f"{config.source_file}: needs the {', '.join(missing)} connector jars: "
                          f"run `python -m extract_load.jars {' '.join(missing)}` (or `make cluster-jars`)")
    conf = dict(_LOCAL_DEFAULTS)
    conf.update({
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.warehouse.dir": config.path(config.spark.warehouse_dir),
        "spark.sql.catalogImplementation": "hive",
    })
    if config.spark.jars == "installed":
        # every node holds the jars at these paths: nothing is shipped per application
        conf["spark.driver.extraClassPath"] = ":".join(jars)
        conf["spark.executor.extraClassPath"] = ":".join(jars)
    else:
        conf["spark.jars"] = ",".join(jars)
    if not config.spark.master.startswith("local"):
        # executors run the Python the driver runs (same virtualenv path on every node)
        conf["spark.pyspark.python"] = sys.executable
        conf["spark.executor.extraJavaOptions"] = "-Duser.timezone=UTC"
    conf.update(storage.storage_conf(config))
    conf.update(metastore.metastore_conf(config))
    conf.update(config.spark.conf)
    return conf


def build_spark(config: Config, app_name: str | None = None):
    """Return the process's Spark session (created on first call) with Delta enabled.

    Raises LoadError when the embedded metastore is held by another process.
    """
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if config.spark.master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # loopback only, and no hostname warning
    conf = spark_conf(config)
    embedded = config.spark.metastore.kind == "derby"
    builder = SparkSession.builder.master(config.spark.master).appName(app_name or config.spark.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    deadline = time.monotonic() + config.spark.metastore.wait_seconds
    while True:
        if embedded:
            _wait_for_derby(config, deadline)
        with _jvm_output():
            spark = builder.enableHiveSupport().getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        if not embedded or _open_derby(spark, config):
            break
        # another waiting process took the catalog first: wait for it in turn, up to the deadline
        release_spark()
        if time.monotonic() >= deadline:
            raise _in_use(config)
    log.info("Spark %s started (master %s)", spark.version, config.spark.master)
    return spark


_JVM_LOG: Path | None = None


def log_jvm_to(path: str | os.PathLike | None) -> None:
    """Send the output of the JVM this process starts (its start-up warnings, Spark's JSON logs and
    Java stack traces) to `path` instead of the console; None: the console (`--debug`)."""
    global _JVM_LOG
    _JVM_LOG = Path(path) if path else None


@contextmanager
def _jvm_output():
    """The JVM inherits the process's stderr when it is launched: point fd 2 at the log file for
    that moment only, so Python's own messages still reach the console."""
    if _JVM_LOG is None:
        yield
        return
    _JVM_LOG.parent.mkdir(parents=True, exist_ok=True)
    target = os.open(_JVM_LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.write(target, f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {' '.join(sys.argv)}\n".encode())
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(target, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(target)


def _in_use(config: Config) -> LoadError:
    return LoadError(
        f"{metastore.derby_dir(config)}: the embedded metastore is in use by another process (Derby admits one); "
        "wait for it, or configure a shared metastore (spark.metastore.kind: hive, see config/cluster.yaml)")


def _derby_held_elsewhere(config: Config) -> bool:
    """True while another process holds the Derby database (its lock on dbex.lck)."""
    lock = metastore.derby_dir(config) / "dbex.lck"
    if not lock.exists():
        return False
    import fcntl

    try:
        with open(lock, "rb+") as handle:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(handle, fcntl.LOCK_UN)
    except OSError:
        return True
    return False


def _wait_for_derby(config: Config, deadline: float) -> None:
    """Wait (until `deadline`: `spark.metastore.wait_seconds` from the start) while another process
    holds the catalog. The usual holder is the command that ran just before, whose JVM is still
    exiting: a routine `make ingest` then `make build` must not fail on that; nor must one of
    several scheduled tasks that start at once."""
    if not _derby_held_elsewhere(config):
        return
    left = deadline - time.monotonic()
    if left > 0:
        log.info("waiting up to %d s for the embedded metastore %s, held by another process",
                 round(left), metastore.derby_dir(config))
        while time.monotonic() < deadline:
            time.sleep(0.5 + random.random())  # waiters that see it free at once rarely start together
            if not _derby_held_elsewhere(config):
                return
    raise _in_use(config)


def release_spark() -> None:
    """Stop this process's Spark session and wait for its JVM to exit.

    Derby's lock is the JVM's: a command that returned while its JVM was still shutting down
    left the embedded metastore held for the next command. Called when a CLI command ends."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    gateway = SparkContext._gateway
    if context is not None:
        context.stop()
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    try:
        gateway.shutdown()
    except Exception:  # the JVM may be gone already
        pass
    if process is not None:
        try:
            process.stdin.close()  # pyspark's launcher exits when its stdin closes
        except Exception:
            pass
        try:
            process.wait(timeout=60)
        except Exception:
            log.warning("the Spark JVM did not exit within 60 s")
    SparkContext._gateway = None
    SparkContext._jvm = None


def _open_derby(spark, config: Config) -> bool:
    """Open the catalog now; False when another process took it first (the caller waits and
    retries), rather than failing on the first query with Hive's stack trace."""
    try:
        spark.catalog.listDatabases()
    except Exception:
        if not _derby_held_elsewhere(config):
            raise
        return False
    return True
