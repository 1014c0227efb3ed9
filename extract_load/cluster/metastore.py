"""The catalog Spark and dbt share: embedded Derby, a Hive metastore (service or database), Glue.

Embedded Derby is the local default and admits one process at a time. A shared metastore lets
ingestion and dbt (through the Thrift Server) run at once: either a Hive metastore service
(`uri: thrift://...`), or the metastore's PostgreSQL database opened directly by every Spark
driver through DataNucleus (`jdbc_url`; the tables are created on first use). Glue is the Hive
client factory EMR and AWS Glue jobs ship; it is not on Maven Central.
"""
from __future__ import annotations

from pathlib import Path

from extract_load.config import Config
from extract_load.errors import ConfigError

GLUE_FACTORY = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
_JDBC_DRIVERS = {"postgresql": ("org.postgresql.Driver", "postgres")}


def derby_dir(config: Config) -> Path:
    """The embedded metastore's Derby database folder."""
    return Path(config.path(config.spark.metastore.path)) / "metastore_db"


def _jdbc_kind(config: Config) -> str:
    url = config.spark.metastore.jdbc_url or ""
    kind = url.split(":")[1] if url.startswith("jdbc:") and url.count(":") >= 2 else ""
    if kind not in _JDBC_DRIVERS:
        raise ConfigError(f"{config.source_file}: spark.metastore.jdbc_url: expected jdbc:postgresql://host:port/db "
                          f"(got {url.split('//')[0] + '//...' if url else 'nothing'})")
    return kind


def jar_profiles(config: Config) -> list[str]:
    """The jars/pom.xml profiles the metastore needs (its JDBC driver)."""
    metastore = config.spark.metastore
    if metastore.kind == "hive" and metastore.jdbc_url:
        return [_JDBC_DRIVERS[_jdbc_kind(config)][1]]
    return []


def metastore_conf(config: Config) -> dict[str, str]:
    """The Spark settings (spark.hadoop.*) that point Spark's Hive client at the catalog.

    Holds the metastore database password when there is one: never log the result.
    """
    metastore = config.spark.metastore
    if metastore.kind == "derby":
        return {
            "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={derby_dir(config)};create=true",
            "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
            "spark.hadoop.hive.metastore.schema.verification": "false",
        }
    if metastore.kind == "glue":
        return {"spark.hadoop.hive.metastore.client.factory.class": GLUE_FACTORY}
    if metastore.uri and metastore.jdbc_url:
        raise ConfigError(f"{config.source_file}: spark.metastore: give uri (a metastore service) or jdbc_url "
                          "(its database), not both")
    if metastore.uri:
        if not metastore.uri.startswith("thrift://"):
            raise ConfigError(f"{config.source_file}: spark.metastore.uri: expected thrift://host:9083")
        return {"spark.hadoop.hive.metastore.uris": metastore.uri}
    if metastore.jdbc_url:
        driver = _JDBC_DRIVERS[_jdbc_kind(config)][0]
        conf = {
            "spark.hadoop.javax.jdo.option.ConnectionURL": metastore.jdbc_url,
            "spark.hadoop.javax.jdo.option.ConnectionDriverName": driver,
            # DataNucleus creates a missing table while the transaction that first needs it is
            # open; its ALTER TABLE ... ADD FOREIGN KEY then waits on that transaction's own locks
            # on PostgreSQL and hangs the driver for good. Tables and columns without constraints
            # (autoCreateAll would force them on) wait on nothing. A schema made beforehand by
            # Hive's schematool has its constraints and is used as it is.
            "spark.hadoop.datanucleus.schema.autoCreateAll": "false",
            "spark.hadoop.datanucleus.schema.autoCreateTables": "true",
            "spark.hadoop.datanucleus.schema.autoCreateColumns": "true",
            "spark.hadoop.datanucleus.schema.autoCreateConstraints": "false",
            "spark.hadoop.hive.metastore.schema.verification": "false",
        }
        if metastore.user:
            conf["spark.hadoop.javax.jdo.option.ConnectionUserName"] = metastore.user
        if metastore.password is not None:
            conf["spark.hadoop.javax.jdo.option.ConnectionPassword"] = metastore.password.get_secret_value()
        return conf
    raise ConfigError(f"{config.source_file}: spark.metastore: a hive metastore needs uri (thrift://host:9083) "
                      "or jdbc_url (jdbc:postgresql://host:port/db)")
