"""Reading and writing the `ops` tables: run history for alerting and status, the alert log."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from extract_load.config import Config
from extract_load import ops


def ensure_ops_tables(spark, config: Config) -> None:
    """Create the empty ops tables the monitoring models read, so dbt works before any run."""
    ops.ensure(spark, config)


def record_alerts(spark, config: Config, alerts) -> None:
    """Keep a log of the alerts sent in `ops.alerts`."""
    if not alerts:
        return
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [(a.kind, a.severity, a.table, a.check, a.run, a.detail, now) for a in alerts]
    ops.append(spark, config, ops.ALERTS, rows)


def read_runs(spark, config: Config, days: int = 30, tables: list[tuple[str, str]] | None = None) -> list[dict]:
    """Rows of `ops.ingest_runs` of the last `days` days (newest first); [] before the first run."""
    name = ops.INGEST_RUNS.qualified(config)
    if not spark.catalog.tableExists(name):
        return []
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)
    frame = spark.table(name).where(f"started_at >= timestamp'{since:%Y-%m-%d %H:%M:%S}'")
    rows = [row.asDict() for row in frame.orderBy("started_at", ascending=False).collect()]
    if tables is not None:
        wanted = set(tables)
        rows = [r for r in rows if (r["source"], r["object"]) in wanted]
    return rows
