"""Table maintenance: compact the small files that hourly MERGEs leave, then VACUUM.

OPTIMIZE rewrites a table's live files into few large ones (Z-ordered by the table's natural
filter column where it has one); VACUUM then deletes files no version younger than the
retention period needs. Content never changes: same rows before and after.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark.sql import SparkSession

from extract_load.config import Config

log = logging.getLogger(__name__)


@dataclass
class MaintenanceResult:
    table: str
    files_before: int
    bytes_before: int
    files_after: int
    bytes_after: int
    zorder_by: tuple[str, ...] = ()


def zorder_columns(config: Config, table: str) -> tuple[str, ...]:
    """What a bronze table is filtered by (its source says: Redshift tables by their cursor, for
    incremental reads and dbt's lookbacks); () for any other table."""
    from extract_load.sources import registry

    prefix = f"{config.lakehouse.bronze_schema}."
    if not table.startswith(prefix):
        return ()
    for source, name in config.source_tables():
        if table == config.bronze_table(source, name):
            return registry.get(source).table_info(registry.settings(config, source), name).zorder_by
    return ()


def stored_tables(spark: SparkSession, schemas: list[str]) -> list[str]:
    """Tables (not views) in the given schemas, from the catalog alone.

    `listTables` also returns the session's temporary views (dbt's `<model>__dbt_tmp` when dbt ran
    in this process): they are not stored tables and may be gone already.
    """
    names = []
    for schema in schemas:
        if spark.catalog.databaseExists(schema):
            names += [f"{schema}.{t.name}" for t in spark.catalog.listTables(schema)
                      if t.tableType != "VIEW" and not t.isTemporary]
    return sorted(names)


def delta_tables(spark: SparkSession, schemas: list[str]) -> list[str]:
    """Every Delta table in the given schemas (views and non-Delta tables are skipped)."""
    return [name for name in stored_tables(spark, schemas) if table_detail(spark, name).get("format") == "delta"]


def table_detail(spark: SparkSession, name: str) -> dict:
    try:
        return spark.sql(f"DESCRIBE DETAIL {name}").first().asDict()
    except Exception:  # not a Delta table
        return {}


def maintain(spark: SparkSession, config: Config, tables: list[str] | None = None,
             retain_hours: int = 168, vacuum: bool = True) -> list[MaintenanceResult]:
    """OPTIMIZE (+ Z-ORDER) and VACUUM bronze and silver tables; returns files/bytes before and after."""
    names = tables or delta_tables(spark, [config.lakehouse.bronze_schema, "silver"])
    results = []
    with vacuum_settings(spark, retain_hours if vacuum else None):
        for name in names:
            results.append(_maintain_one(spark, config, name, retain_hours, vacuum))
    return results


def _maintain_one(spark: SparkSession, config: Config, name: str, retain_hours: int, vacuum: bool) -> MaintenanceResult:
    before = table_detail(spark, name)
    zorder = zorder_columns(config, name)
    statement = f"OPTIMIZE {name}" + (f" ZORDER BY ({', '.join(f'`{c}`' for c in zorder)})" if zorder else "")
    spark.sql(statement)
    if vacuum:
        spark.sql(f"VACUUM {name} RETAIN {int(retain_hours)} HOURS")
    after = table_detail(spark, name)
    result = MaintenanceResult(name, int(before.get("numFiles") or 0), int(before.get("sizeInBytes") or 0),
                               int(after.get("numFiles") or 0), int(after.get("sizeInBytes") or 0), zorder)
    log.info("%s: %d files (%d bytes) -> %d files (%d bytes)", name, result.files_before, result.bytes_before,
             result.files_after, result.bytes_after)
    return result


_LISTING = "spark.sql.sources.parallelPartitionDiscovery.parallelism"
_RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@contextmanager
def vacuum_settings(spark: SparkSession, hours: int | None = None):
    """Session settings for VACUUM, restored afterwards.

    VACUUM lists a table's folder in as many Spark tasks as the file-listing parallelism, whose
    default (10,000) makes it take minutes on a small local table; unless the Spark config sets
    it, list with one task per core. A retention under Delta's 7-day safety minimum is allowed
    only when the caller asked for it (an erasure, or the configured `retain_hours`).
    """
    saved = {key: spark.conf.get(key, None) for key in (_LISTING, _RETENTION_CHECK)}
    if not spark.sparkContext.getConf().contains(_LISTING):
        spark.conf.set(_LISTING, str(max(1, spark.sparkContext.defaultParallelism)))
    if hours is not None and hours < 168:
        spark.conf.set(_RETENTION_CHECK, "false")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def format_results(results: list[MaintenanceResult]) -> str:
    header = f"{'table':<46} {'files before':>12} {'after':>7} {'MB before':>10} {'after':>8}  z-order"
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(f"{r.table:<46} {r.files_before:>12,} {r.files_after:>7,} {r.bytes_before / 1e6:>10.2f} "
                     f"{r.bytes_after / 1e6:>8.2f}  {', '.join(r.zorder_by)}")
    return "\n".join(lines)
