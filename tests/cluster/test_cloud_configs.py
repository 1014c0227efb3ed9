"""config/aws.yaml and config/azure.yaml without a cloud: they load, imply the Spark settings and
connector jars their stores and metastores need, and every class those settings name is on the
classpath the environment gets (pyspark's jars plus the fetched profiles)."""
from __future__ import annotations

import re
import zipfile
from functools import lru_cache
from pathlib import Path

import pytest

from extract_load.cluster.metastore import GLUE_FACTORY
from extract_load.thriftserver import spark_home
from extract_load.sources.registry import load_config
from extract_load.errors import ConfigError
from extract_load.spark import jar_profiles, spark_conf
from tests.extract_load.test_config import AWS_ENV

AZURE_ENV = AWS_ENV | {
    "LAKEHOUSE_URI": "abfss://lake@account.dfs.core.windows.net/lakehouse",
    "SPARK_WAREHOUSE_URI": "abfss://lake@account.dfs.core.windows.net/warehouse",
    "HIVE_METASTORE_URI": "thrift://metastore.internal:9083",
}
_CLASS = re.compile(r"^(?:org|com|software|io)\.[A-Za-z0-9_.$]+\.[A-Z][A-Za-z0-9_$]*$")


@lru_cache(maxsize=None)
def _classes(jar: str) -> frozenset[str]:
    with zipfile.ZipFile(jar) as archive:
        return frozenset(n[:-6].replace("/", ".") for n in archive.namelist() if n.endswith(".class"))


def _missing_classes(conf: dict[str, str]) -> set[str]:
    jars = [str(p) for p in (spark_home() / "jars").glob("*.jar")]
    jars += [j for j in re.split(r"[,:]", conf.get("spark.jars") or conf.get("spark.driver.extraClassPath", "")) if j]
    named = {v for v in conf.values() if _CLASS.match(v)}
    found = set()
    for jar in jars:
        found |= named & _classes(jar)
    return named - found


def _load(monkeypatch, env: str, values: dict[str, str]):
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return load_config(env=env)


def test_aws_on_s3_with_glue(monkeypatch):
    config = _load(monkeypatch, "aws", AWS_ENV)
    conf = spark_conf(config)
    assert jar_profiles(config) == ["s3"]
    assert conf["spark.sql.warehouse.dir"] == "s3a://bucket/warehouse"
    assert conf["spark.hadoop.hive.metastore.client.factory.class"] == GLUE_FACTORY
    assert conf["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert any("hadoop-aws-3.5.0" in j for j in conf["spark.jars"].split(","))
    # Glue's Hive client ships with EMR and Glue jobs, not on Maven Central; everything else is here
    assert _missing_classes(conf) == {GLUE_FACTORY}


def test_aws_with_a_hive_metastore_database_and_jars_on_the_nodes(monkeypatch):
    config = _load(monkeypatch, "aws", AWS_ENV | {
        "METASTORE_KIND": "hive", "HIVE_METASTORE_JDBC_URL": "jdbc:postgresql://meta.internal:5432/metastore",
        "HIVE_METASTORE_USER": "hive", "HIVE_METASTORE_PASSWORD": "meta-secret", "SPARK_JARS_MODE": "installed",
        "SPARK_MASTER": "spark://spark-master.internal:7077"})
    conf = spark_conf(config)
    assert jar_profiles(config) == ["postgres", "s3"]
    assert "spark.jars" not in conf and conf["spark.executor.extraClassPath"] == conf["spark.driver.extraClassPath"]
    assert conf["spark.hadoop.javax.jdo.option.ConnectionDriverName"] == "org.postgresql.Driver"
    assert conf["spark.hadoop.datanucleus.schema.autoCreateConstraints"] == "false"
    assert "meta-secret" not in repr(config)
    assert _missing_classes(conf) == set()


def test_azure_on_adls_with_a_hive_metastore_service(monkeypatch):
    config = _load(monkeypatch, "azure", AZURE_ENV)
    conf = spark_conf(config)
    assert jar_profiles(config) == ["azure"]
    assert conf["spark.hadoop.hive.metastore.uris"] == "thrift://metastore.internal:9083"
    assert conf["spark.hadoop.fs.azure.account.auth.type"] == "OAuth"
    assert any("hadoop-azure-3.5.0" in j for j in conf["spark.jars"].split(","))
    assert not any("hadoop-aws" in j for j in conf["spark.jars"].split(","))
    assert _missing_classes(conf) == set()


def test_local_default_needs_no_connector():
    config = load_config(env="default")
    assert jar_profiles(config) == []
    assert not any("/s3/" in j or "/azure/" in j for j in spark_conf(config)["spark.jars"].split(","))


@pytest.mark.parametrize("env, values, message", [
    ("aws", AWS_ENV | {"LAKEHOUSE_URI": "s3://bucket/lakehouse"},
     "config/aws.yaml: lakehouse.root: s3:// is not supported by Spark's Hadoop; use s3a://"),
    ("azure", AZURE_ENV | {"HIVE_METASTORE_URI": ""},
     "config/azure.yaml: spark.metastore: a hive metastore needs uri (thrift://host:9083) "
     "or jdbc_url (jdbc:postgresql://host:port/db)"),
    ("azure", AZURE_ENV | {"SPARK_WAREHOUSE_URI": "gs://bucket/warehouse"},
     "config/azure.yaml: spark.warehouse_dir: unsupported storage scheme 'gs' (use a path, file:, s3a:// or abfss://)"),
])
def test_unusable_settings_are_one_line_naming_the_key(monkeypatch, env, values, message):
    config = _load(monkeypatch, env, values)
    with pytest.raises(ConfigError) as err:
        spark_conf(config)
    assert str(err.value).replace(str(Path.cwd()) + "/", "") == message
