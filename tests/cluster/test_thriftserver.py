"""The Thrift Server dbt talks to starts with the loaders' own settings, its secrets kept off `ps`."""
from __future__ import annotations

import stat

from extract_load import thriftserver
from sandbox import cluster as local
from extract_load.sources.registry import load_config
from extract_load.spark import spark_conf


def test_thrift_server_gets_the_environments_settings_in_a_private_file(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTER_METASTORE_PASSWORD", "meta-sentinel-pw")
    config = load_config(env="cluster")
    path = thriftserver.write_properties(config, tmp_path / "ts.properties", {"spark.cores.max": "2"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    props = dict(line.split("=", 1) for line in path.read_text().splitlines())
    conf = spark_conf(config)
    for key in ("spark.sql.extensions", "spark.hadoop.fs.s3a.endpoint", "spark.hadoop.javax.jdo.option.ConnectionURL",
                "spark.sql.warehouse.dir", "spark.driver.extraClassPath"):
        assert props[key] == conf[key], key
    assert props["spark.hadoop.javax.jdo.option.ConnectionPassword"] == "meta-sentinel-pw"
    assert props["spark.cores.max"] == "2"
    command = thriftserver.command(config, path)
    assert "meta-sentinel-pw" not in " ".join(command)
    assert command[-4:] == ["--hiveconf", f"hive.server2.thrift.port={config.dbt.thrift_port}",
                            "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1"]


def test_local_cluster_reads_its_ports_from_the_config(monkeypatch):
    for name in ("CLUSTER_SPARK_PORT", "CLUSTER_S3_PORT", "CLUSTER_METASTORE_PORT", "CLUSTER_THRIFT_PORT", "CLUSTER_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    plan = local.plan(load_config(env="cluster"))
    assert plan == {"spark_port": 7077, "bucket": "lakehouse", "s3_port": 9000, "pg_port": 5442, "thrift_port": 10000}
