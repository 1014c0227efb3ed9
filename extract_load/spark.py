"""One Spark session with Delta Lake, configured from the environment's config file.

The same warehouse and metastore settings are written for dbt (`spark_conf`) so that the
loaders and dbt see one catalog. Embedded Derby admits one process at a time: a second process
gets a clear error instead of Derby's stack trace.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from extract_load.config import Config
from extract_load.errors import ConfigError, LoadError
from extract_load.jars import jar_paths

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
}


def spark_conf(config: Config) -> dict[str, str]:
    """Every Spark setting the environment needs: Delta, jars, warehouse, metastore, overrides."""
    jars = jar_paths()
    if not jars:
        raise ConfigError(".cache/jars: the Delta Lake jars are missing; run `make setup` first")
    conf = dict(_LOCAL_DEFAULTS)
    conf.update({
        "spark.jars": ",".join(jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.warehouse.dir": config.path(config.spark.warehouse_dir),
        "spark.sql.catalogImplementation": "hive",
    })
    metastore = config.spark.metastore
    if metastore.kind == "derby":
        db = Path(config.path(metastore.path)) / "metastore_db"
        conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = f"jdbc:derby:;databaseName={db};create=true"
        conf["spark.hadoop.datanucleus.schema.autoCreateAll"] = "true"
        conf["spark.hadoop.hive.metastore.schema.verification"] = "false"
    elif metastore.kind == "hive":
        if not metastore.uri:
            raise ConfigError(f"{config.source_file}: spark.metastore.uri: required for a hive metastore (thrift://host:9083)")
        conf["spark.hadoop.hive.metastore.uris"] = metastore.uri
    elif metastore.kind == "glue":
        conf["spark.hadoop.hive.metastore.client.factory.class"] = (
            "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory")
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
    if config.spark.metastore.kind == "derby":
        _check_derby_free(config)
    builder = SparkSession.builder.master(config.spark.master).appName(app_name or config.spark.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.enableHiveSupport().getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    log.info("Spark %s started (master %s)", spark.version, config.spark.master)
    return spark


def _check_derby_free(config: Config) -> None:
    """Derby writes db.lck while a JVM holds the database; say so in one line."""
    db = Path(config.path(config.spark.metastore.path)) / "metastore_db"
    lock = db / "dbex.lck"
    if lock.exists():
        try:
            import fcntl

            with open(lock, "rb+") as handle:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.lockf(handle, fcntl.LOCK_UN)
        except OSError:
            raise LoadError(
                f"{db}: the embedded metastore is in use by another process (Derby admits one); "
                "wait for it, or configure a shared metastore (spark.metastore.kind: hive)"
            ) from None
