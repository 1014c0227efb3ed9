"""Where the lakehouse lives: a local path or `file:` URI, S3 (`s3a://`) or ADLS Gen2 (`abfss://`).

The scheme decides which Hadoop connector jars the environment needs (fetched by `make setup`
only when some config asks for them) and a few settings Delta needs on that store.
"""
from __future__ import annotations

from urllib.parse import urlparse

from extract_load.config import Config
from extract_load.errors import ConfigError

# scheme -> the jars/pom.xml profile holding its Hadoop connector
_CONNECTORS = {"file": None, "s3a": "s3", "abfss": "azure"}
# schemes people type that Hadoop 3 (pyspark's) cannot use, and what to write instead
_REPLACED = {"s3": "s3a", "s3n": "s3a", "abfs": "abfss", "wasb": "abfss", "wasbs": "abfss"}


def scheme(uri: str) -> str:
    """The URI's scheme; a plain path is `file`."""
    if "://" not in uri and not uri.startswith("file:"):
        return "file"
    return urlparse(uri).scheme.lower()


def check_uri(config: Config, key: str, uri: str) -> str:
    """The scheme of one storage location of the config; ConfigError names the key if unusable."""
    found = scheme(uri)
    if found in _REPLACED:
        raise ConfigError(f"{config.source_file}: {key}: {found}:// is not supported by Spark's Hadoop; "
                          f"use {_REPLACED[found]}://")
    if found not in _CONNECTORS:
        raise ConfigError(f"{config.source_file}: {key}: unsupported storage scheme {found!r} "
                          f"(use a path, file:, s3a:// or abfss://)")
    if found != "file" and not urlparse(uri).netloc:
        raise ConfigError(f"{config.source_file}: {key}: {uri!r} names no bucket/container")
    return found


def schemes(config: Config) -> set[str]:
    """The storage schemes the environment writes to: the lakehouse and the warehouse."""
    return {check_uri(config, "lakehouse.root", config.lakehouse.root),
            check_uri(config, "spark.warehouse_dir", config.spark.warehouse_dir)}


def jar_profiles(config: Config) -> list[str]:
    """The jars/pom.xml profiles of the connectors the lakehouse needs (s3, azure)."""
    return sorted({_CONNECTORS[s] for s in schemes(config) if _CONNECTORS[s]})


def storage_conf(config: Config) -> dict[str, str]:
    """Defaults for the object store; the environment's `spark.conf` overrides any of them."""
    found = schemes(config)
    conf: dict[str, str] = {}
    if "s3a" in found:
        # Delta's default for s3a is S3SingleDriverLogStore: safe while each table has one writing
        # cluster (ours: one job per table). Multi-cluster writers need S3DynamoDBLogStore.
        conf["spark.hadoop.fs.s3a.fast.upload"] = "true"
        conf["spark.hadoop.fs.s3a.committer.magic.enabled"] = "false"
    if "abfss" in found:
        conf["spark.hadoop.fs.azure.account.hns.enabled"] = "true"
    return conf
