"""Every `ops.*` table the pipeline keeps: its name, schema and location, and how rows reach it.

The one place the ops tables are declared; everything that writes or reads them (the runner,
the cursor store, monitoring, alerts, erasures) takes them from here. It depends on nothing of
the project but the configuration.
"""
from __future__ import annotations

from dataclasses import dataclass
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from extract_load.config import Config

S, TS, L, D, I = T.StringType(), T.TimestampType(), T.LongType(), T.DoubleType(), T.IntegerType()


@dataclass(frozen=True)
class OpsTable:
    name: str
    fields: tuple[tuple[str, T.DataType], ...]
    # the Delta partition column(s): tables that many tasks update at once keep each task to its own files
    partition_by: tuple[str, ...] = ()

    @property
    def schema(self) -> T.StructType:
        return T.StructType([T.StructField(n, t) for n, t in self.fields])

    @property
    def columns(self) -> list[str]:
        return [n for n, _ in self.fields]

    def qualified(self, config: Config) -> str:
        return config.ops_table(self.name)

    def location(self, config: Config) -> str:
        return config.ops_location(self.name)


INGEST_RUNS = OpsTable("ingest_runs", (
    ("run_id", S), ("load_id", S), ("source", S), ("object", S), ("status", S), ("started_at", TS),
    ("finished_at", TS), ("duration_s", D), ("mode", S), ("rows_extracted", L), ("rows_inserted", L),
    ("rows_updated", L), ("rows_rejected", L), ("duplicates", L), ("chunks", L), ("bytes", L), ("requests", L),
    ("responses_429", L), ("wait_seconds", D), ("cursor_before", S), ("cursor_after", S), ("error", S)))

INGEST_STATE = OpsTable("ingest_state", (
    ("source", S), ("object", S), ("cursor", S), ("details", S), ("load_id", S), ("updated_at", TS)))

SCHEMA_CHANGES = OpsTable("schema_changes", (
    ("source", S), ("object", S), ("bronze_table", S), ("column_name", S), ("change", S), ("old_type", S),
    ("new_type", S), ("load_id", S), ("changed_at", TS)))

DQ_RESULTS = OpsTable("dq_results", (
    ("invocation_id", S), ("run_label", S), ("command", S), ("generated_at", TS), ("unique_id", S),
    ("test_name", S), ("rule", S), ("table_name", S), ("column_name", S), ("severity", S), ("status", S),
    ("failures", L), ("message", S), ("execution_time", D), ("recorded_at", TS)))

ALERTS = OpsTable("alerts", (
    ("kind", S), ("severity", S), ("table_name", S), ("check_name", S), ("run", S), ("detail", S),
    ("sent_at", TS)))

ERASURES = OpsTable("erasures", (
    ("erasure_id", S), ("requested_at", TS), ("identifier_kinds", S), ("request_hash", S), ("tables", S),
    ("rows_deleted", L), ("vacuum_retain_hours", I)))

# what the monitoring models read: created empty before the first run so dbt builds on a new lakehouse
MONITORED = (INGEST_RUNS, DQ_RESULTS, ALERTS)


def append(spark: SparkSession, config: Config, table: OpsTable, rows: list[tuple]) -> None:
    """Append rows (tuples in the table's column order) to `ops.<table>`, creating it (external, at
    its ops location) on first use."""
    name = table.qualified(config)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {config.lakehouse.ops_schema}")
    writer = spark.createDataFrame(rows, table.schema).write.format("delta").mode("append")
    if not spark.catalog.tableExists(name):
        writer = writer.option("path", table.location(config))
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
    writer.saveAsTable(name)


def ensure(spark: SparkSession, config: Config, tables: tuple[OpsTable, ...] = MONITORED) -> None:
    """Create the given ops tables, empty, where they do not exist yet."""
    for table in tables:
        if not spark.catalog.tableExists(table.qualified(config)):
            append(spark, config, table, [])


def rows_of(table: OpsTable, records: list[dict]) -> list[tuple]:
    """Dicts keyed by column name as tuples in the table's column order (missing keys are null)."""
    return [tuple(record.get(column) for column in table.columns) for record in records]

