"""A Spark Thrift Server with the environment's own Delta, storage and metastore settings.

dbt's `thrift` target talks to it. pyspark's wheel ships the server's jar but not
`start-thriftserver.sh`, so it is started the way that script does: `spark-submit --class
HiveThriftServer2 spark-internal`. The settings go in a properties file readable only by its
owner (it may hold the metastore password), never on the command line where `ps` shows them.
"""
from __future__ import annotations

import os
from pathlib import Path

from extract_load.config import Config

MAIN_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"


def spark_home() -> Path:
    """pyspark's install folder: its bin/ has spark-submit and spark-class."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def write_properties(config: Config, path: Path, overrides: dict[str, str] | None = None) -> Path:
    """The server's Spark settings as a spark-submit properties file (mode 0600)."""
    from extract_load.spark import spark_conf

    conf = spark_conf(config) | {"spark.app.name": f"{config.spark.app_name}-thriftserver"} | (overrides or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        for key, value in sorted(conf.items()):
            escaped = value.replace("\\", "\\\\").replace("\n", "\\n")
            handle.write(f"{key}={escaped}\n")
    return path


def command(config: Config, properties: Path, bind_host: str | None = None) -> list[str]:
    """The spark-submit command line that starts the server on `dbt.thrift_host:thrift_port`."""
    host = bind_host or config.dbt.thrift_host
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", config.spark.master,
        "--properties-file", str(properties),
        "--class", MAIN_CLASS,
        "spark-internal",
        "--hiveconf", f"hive.server2.thrift.port={config.dbt.thrift_port}",
        "--hiveconf", f"hive.server2.thrift.bind.host={host}",
    ]
