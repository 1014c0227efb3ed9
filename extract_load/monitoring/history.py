"""Reading and writing the `ops` tables: run history for alerting and status, the alert log."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from extract_load.config import Config

ALERTS_TABLE = "alerts"


def _alerts_schema():
    from pyspark.sql import types as T

    return T.StructType([T.StructField(n, t) for n, t in [
        ("kind", T.StringType()), ("severity", T.StringType()), ("table_name", T.StringType()),
        ("check_name", T.StringType()), ("run", T.StringType()), ("detail", T.StringType()),
        ("sent_at", T.TimestampType())]])


def append(spark, config: Config, table: str, schema, rows: list[tuple]) -> None:
    """Append rows to `ops.<table>`, creating it (external, at the ops location) on first use."""
    name = config.ops_table(table)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {config.lakehouse.ops_schema}")
    writer = spark.createDataFrame(rows, schema).write.format("delta").mode("append")
    if not spark.catalog.tableExists(name):
        writer = writer.option("path", config.ops_location(table))
    writer.saveAsTable(name)


def ensure_ops_tables(spark, config: Config) -> None:
    """Create the empty ops tables the monitoring models read, so dbt works before any run."""
    from extract_load.load.runs import _SCHEMA as RUNS_SCHEMA, RUNS_TABLE
    from extract_load.monitoring.dq import DQ_TABLE, _schema as dq_schema

    for table, schema in ((RUNS_TABLE, RUNS_SCHEMA), (DQ_TABLE, dq_schema()), (ALERTS_TABLE, _alerts_schema())):
        if not spark.catalog.tableExists(config.ops_table(table)):
            append(spark, config, table, schema, [])


def record_alerts(spark, config: Config, alerts) -> None:
    """Keep a log of the alerts sent in `ops.alerts`."""
    if not alerts:
        return
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [(a.kind, a.severity, a.table, a.check, a.run, a.detail, now) for a in alerts]
    append(spark, config, ALERTS_TABLE, _alerts_schema(), rows)


def read_runs(spark, config: Config, days: int = 30, tables: list[tuple[str, str]] | None = None) -> list[dict]:
    """Rows of `ops.ingest_runs` of the last `days` days (newest first); [] before the first run."""
    from extract_load.load.runs import RUNS_TABLE

    name = config.ops_table(RUNS_TABLE)
    if not spark.catalog.tableExists(name):
        return []
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)
    frame = spark.table(name).where(f"started_at >= timestamp'{since:%Y-%m-%d %H:%M:%S}'")
    rows = [row.asDict() for row in frame.orderBy("started_at", ascending=False).collect()]
    if tables is not None:
        wanted = set(tables)
        rows = [r for r in rows if (r["source"], r["object"]) in wanted]
    return rows
