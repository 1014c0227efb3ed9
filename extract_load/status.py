"""`python -m extract_load status`: the state of every configured table, read from `ops`.

Per table: the last run (when, status, rows, duration), freshness (age of the last successful
load against what the table's frequency allows), failures over the last day and week, rate
limiting, and the latest data-quality results. Exit code 0 when every table is healthy, 1 when a
table's last run failed, it is stale, or it has never loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from extract_load.config import Config

# How old a table's last successful load may be before it counts as stale.
STALE_AFTER = {"real-time": timedelta(minutes=30), "hourly": timedelta(hours=2), "daily": timedelta(hours=26)}


@dataclass
class TableStatus:
    source: str
    object: str
    frequency: str
    last_run_at: datetime | None = None
    last_status: str = "never"
    last_load_id: str = ""
    last_rows: int = 0
    last_duration_s: float = 0.0
    last_success_at: datetime | None = None
    failures_24h: int = 0
    runs_24h: int = 0
    failures_7d: int = 0
    runs_7d: int = 0
    responses_429_24h: int = 0
    dq_failed: int = 0
    dq_warned: int = 0
    last_error: str = ""

    @property
    def table(self) -> str:
        return f"{self.source}.{self.object}"

    def age(self, now: datetime) -> timedelta | None:
        return None if self.last_success_at is None else now - self.last_success_at

    def health(self, now: datetime) -> str:
        """ok, stale, failing or never."""
        if self.last_run_at is None:
            return "never"
        if self.last_status == "failed":
            return "failing"
        age = self.age(now)
        if age is None or age > STALE_AFTER.get(self.frequency, timedelta(hours=26)):
            return "stale"
        return "ok"


def collect_status(config: Config, runs: list[dict], dq_rows: list[dict] = (), now: datetime | None = None) -> list[TableStatus]:
    """One TableStatus per configured table from `ops.ingest_runs` rows (any order) and the
    rows of the latest dbt invocation per table in `ops.dq_results`."""
    from extract_load.alerts import scrub

    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    by_table: dict[tuple[str, str], list[dict]] = {}
    for row in runs:
        by_table.setdefault((row["source"], row["object"]), []).append(row)
    latest_dq: dict[str, tuple] = {}
    for row in dq_rows:
        table = row.get("table_name") or ""
        key = (row.get("generated_at") or datetime.min, row.get("invocation_id") or "")
        if table not in latest_dq or key > latest_dq[table][0]:
            latest_dq[table] = (key, [])
        if key == latest_dq[table][0]:
            latest_dq[table][1].append(row)

    out: list[TableStatus] = []
    for source, obj in config.source_tables():
        status = TableStatus(source, obj, config.frequency(source, obj))
        rows = sorted(by_table.get((source, obj), []), key=lambda r: r["started_at"], reverse=True)
        if rows:
            last = rows[0]
            status.last_run_at, status.last_status = last["started_at"], last["status"]
            status.last_load_id = last.get("load_id") or ""
            status.last_rows = int(last.get("rows_extracted") or 0)
            status.last_duration_s = float(last.get("duration_s") or 0.0)
            good = [r for r in rows if r["status"] != "failed"]
            status.last_success_at = good[0].get("finished_at") or good[0]["started_at"] if good else None
            day, week = now - timedelta(days=1), now - timedelta(days=7)
            status.runs_24h = sum(1 for r in rows if r["started_at"] >= day)
            status.failures_24h = sum(1 for r in rows if r["started_at"] >= day and r["status"] == "failed")
            status.runs_7d = sum(1 for r in rows if r["started_at"] >= week)
            status.failures_7d = sum(1 for r in rows if r["started_at"] >= week and r["status"] == "failed")
            status.responses_429_24h = sum(int(r.get("responses_429") or 0) for r in rows if r["started_at"] >= day)
            failed = [r for r in rows if r["status"] == "failed"]
            if failed and last["status"] == "failed":
                status.last_error = scrub(failed[0].get("error"), config, limit=160)
        checks = latest_dq.get(f"{source}.{obj}", (None, []))[1]
        status.dq_failed = sum(1 for r in checks if (r.get("status") or "") in ("fail", "error", "runtime error"))
        status.dq_warned = sum(1 for r in checks if r.get("status") == "warn")
        out.append(status)
    return out


def _age(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def format_status(statuses: list[TableStatus], now: datetime | None = None) -> str:
    """A fixed-width table for the terminal, one line per table, errors indented below."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    header = (f"{'table':<30} {'freq':<9} {'health':<8} {'last run (UTC)':<16} {'status':<7} {'rows':>9} "
              f"{'secs':>7} {'fresh':>6} {'fail 24h':>8} {'fail 7d':>7} {'429s':>5} {'dq f/w':>7}")
    lines = [header, "-" * len(header)]
    for s in statuses:
        last = s.last_run_at.strftime("%Y-%m-%d %H:%M") if s.last_run_at else "-"
        lines.append(
            f"{s.table:<30} {s.frequency:<9} {s.health(now):<8} {last:<16} {s.last_status:<7} {s.last_rows:>9,} "
            f"{s.last_duration_s:>7.1f} {_age(s.age(now)):>6} {f'{s.failures_24h}/{s.runs_24h}':>8} "
            f"{f'{s.failures_7d}/{s.runs_7d}':>7} {s.responses_429_24h:>5} {f'{s.dq_failed}/{s.dq_warned}':>7}")
        if s.last_error:
            lines.append(f"    last error: {s.last_error}")
    lines.append("fresh: age of the last successful load; fail: failed/all runs; dq f/w: failed/warning "
                 "checks in the latest dbt run")
    return "\n".join(lines)


def read_dq_results(spark, config: Config, days: int = 7) -> list[dict]:
    from extract_load.monitoring.dq import DQ_TABLE

    name = config.ops_table(DQ_TABLE)
    if not spark.catalog.tableExists(name):
        return []
    since = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=days)
    frame = spark.table(name).where(f"generated_at >= timestamp'{since:%Y-%m-%d %H:%M:%S}'")
    return [r.asDict() for r in frame.select("invocation_id", "generated_at", "table_name", "status").collect()]


def main(config: Config, spark=None) -> int:
    """Print the status table; 0 when all tables are healthy, 1 otherwise."""
    from extract_load.monitoring import read_runs
    from extract_load.spark import build_spark

    spark = spark or build_spark(config)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    statuses = collect_status(config, read_runs(spark, config, days=7), read_dq_results(spark, config), now=now)
    print(format_status(statuses, now=now))
    return 0 if all(s.health(now) == "ok" for s in statuses) else 1
