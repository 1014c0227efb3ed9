"""MERGE a batch into a bronze Delta table: the one place rows enter bronze.

Contract (DESIGN.md): rows whose key is null go to `<table>__rejects` with a reason; exact
duplicates collapse; several versions of one key keep the newest; re-merging the same batch
changes nothing. New source columns are added to the table; a type change that would lose
data stops the table's load with one line naming table, column, old and new type.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from extract_load.config import Config
from extract_load.errors import LoadError
from extract_load.sources.base import BronzeTable

log = logging.getLogger(__name__)

METADATA_COLUMNS = ("_loaded_at", "_load_id")
REJECT_REASON = "_reject_reason"
ACCEPT_TYPE_CHANGE_HINT = "run `python -m extract_load ingest --accept-type-change {table}.{column}` to rewrite the column"


@dataclass(frozen=True)
class SchemaChange:
    """A column added, widened or rewritten by a MERGE: the runner records it in ops.schema_changes."""

    column: str
    change: str  # added | widened | type accepted
    new_type: str | None
    old_type: str | None = None


@dataclass
class MergeResult:
    table: str
    rows_in: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    duplicates: int = 0
    added_columns: list[str] = field(default_factory=list)
    schema_changes: list[SchemaChange] = field(default_factory=list)

    def add(self, other: "MergeResult") -> "MergeResult":
        self.rows_in += other.rows_in
        self.inserted += other.inserted
        self.updated += other.updated
        self.rejected += other.rejected
        self.duplicates += other.duplicates
        self.added_columns += [c for c in other.added_columns if c not in self.added_columns]
        self.schema_changes += other.schema_changes
        return self


# Casts from a narrower to a wider type lose nothing: the batch is cast to the table's type.
_WIDENS = {
    T.ByteType: (T.ShortType, T.IntegerType, T.LongType, T.DecimalType, T.DoubleType),
    T.ShortType: (T.IntegerType, T.LongType, T.DecimalType, T.DoubleType),
    T.IntegerType: (T.LongType, T.DecimalType, T.DoubleType),
    T.LongType: (T.DecimalType,),
    T.FloatType: (T.DoubleType,),
    T.DateType: (T.TimestampType, T.TimestampNTZType),
    T.TimestampNTZType: (T.TimestampType,),
}


def _lossless(source: T.DataType, target: T.DataType) -> bool:
    if source == target or isinstance(source, T.NullType):
        return True
    if isinstance(source, T.DecimalType) and isinstance(target, T.DecimalType):
        return target.scale >= source.scale and target.precision - target.scale >= source.precision - source.scale
    if isinstance(source, T.DecimalType) and isinstance(target, T.DoubleType):
        return False
    if isinstance(source, T.LongType) and isinstance(target, T.DecimalType):
        return target.precision - target.scale >= 19
    if isinstance(source, T.IntegerType) and isinstance(target, T.DecimalType):
        return target.precision - target.scale >= 10
    return any(isinstance(target, t) for t in _WIDENS.get(type(source), ()))


class BronzeWriter:
    """Merges batches into bronze tables of one lakehouse; one per run."""

    def __init__(self, spark: SparkSession, config: Config, load_id: str, loaded_at: datetime | None = None):
        self.spark = spark
        self.config = config
        self.load_id = load_id
        self.loaded_at = (loaded_at or datetime.now(timezone.utc)).replace(tzinfo=None)
        self._schemas_ready: set[str] = set()

    def ensure_schema(self, schema: str) -> None:
        if schema not in self._schemas_ready:
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
            self._schemas_ready.add(schema)

    def merge(self, source: str, spec: BronzeTable, batch: DataFrame,
              accept_type_change: frozenset[str] = frozenset()) -> MergeResult:
        """Land one batch of `source`'s table; returns counts and schema changes. Raises LoadError
        for a type change that loses data."""
        name = self.config.bronze_table(source, spec.name)
        location = self.config.bronze_location(source, spec.name)
        result = MergeResult(table=name)
        self.ensure_schema(self.config.lakehouse.bronze_schema)
        batch = batch.drop(*[c for c in batch.columns if c.startswith("_dlt_")])
        batch = (batch.withColumn("_loaded_at", F.lit(self.loaded_at).cast("timestamp"))
                 .withColumn("_load_id", F.lit(self.load_id)))
        missing = [k for k in spec.keys if k not in batch.columns]
        if missing:
            raise LoadError(f"{name}: key column(s) {', '.join(missing)} not in the extracted data; check primary_key in the config")

        null_key = F.lit(False)
        for key in spec.keys:
            null_key = null_key | F.col(key).isNull()
        # No cache and no second pass over the whole batch: the counts below read only the key
        # columns (Parquet prunes the rest), and the one heavy plan (keep the newest row per key)
        # runs once, inside the write or the MERGE. Exact duplicates need no pass of their own:
        # identical rows of one key are one candidate for the window.
        rejects = batch.filter(null_key)
        good = batch.filter(~null_key)
        result.rejected = rejects.count()
        self._write_rejects(spec, name, location, rejects, batch, result.rejected)
        counted = good.count()
        result.rows_in = counted
        if counted == 0 and self._exists(name):
            return result
        latest = self._latest_per_key(good, spec)
        merged_rows = self._merge(spec, name, location, latest, accept_type_change, result, candidates=good)
        result.duplicates = counted - merged_rows
        return result

    def _latest_per_key(self, frame: DataFrame, spec: BronzeTable) -> DataFrame:
        """The newest row of each key (identical rows are one candidate, so exact duplicates collapse).

        Why not one window over the batch: sorting every row to settle the few keys that repeat
        was most of a MERGE's cost on a small machine. Keys that occur once pass through as they
        are; only the rows of repeated keys (found by counting the key columns, then broadcast)
        are ranked. Both branches read the batch as it is, with no shuffle of the full rows.
        """
        keys = list(spec.keys)
        repeated = F.broadcast(frame.groupBy(*keys).count().filter("count > 1").select(*keys))
        once = frame.join(repeated, keys, "left_anti")
        ranked = self._ranked(frame.join(repeated, keys, "left_semi"), spec)
        return once.unionByName(ranked).select(*frame.columns)  # a USING join puts the keys first

    def _ranked(self, frame: DataFrame, spec: BronzeTable) -> DataFrame:
        order = [F.col(spec.version_column).desc_nulls_last()] if spec.version_column else []
        order += [F.col(c).asc_nulls_last() for c in frame.columns if c not in METADATA_COLUMNS and c not in spec.keys][:1] or [F.lit(1)]
        window = Window.partitionBy(*spec.keys).orderBy(*order)
        return frame.withColumn("__rank", F.row_number().over(window)).filter("__rank = 1").drop("__rank")

    def _exists(self, name: str) -> bool:
        return self.spark.catalog.tableExists(name)

    def _merge(self, spec: BronzeTable, name: str, location: str, batch: DataFrame, accept: frozenset[str],
               result: MergeResult, candidates: DataFrame | None = None) -> int:
        """MERGE (or create) and fill `result`; returns the number of distinct source rows merged.

        `candidates` (the batch before the newest-per-key step) answers which partitions the MERGE
        touches without running that step a second time."""
        from delta.tables import DeltaTable

        if not self._exists(name):
            writer = batch.write.format("delta").mode("append").option("path", location)
            if spec.partition_by:
                writer = writer.partitionBy(*spec.partition_by)
            writer.saveAsTable(name)
            # Delta's own count of the commit: a second count() would run the batch's plan again
            written = _last_operation_metrics(self.spark, name).get("numOutputRows")
            result.inserted = int(written) if written is not None else self.spark.table(name).count()
            log.info("%s: created with %d rows", name, result.inserted)
            return result.inserted

        target_schema = self.spark.table(name).schema
        batch, added = self._align(name, batch, target_schema, accept, result)
        condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in spec.keys)
        if spec.partition_by:
            values = [r[0] for r in (candidates if candidates is not None else batch)
                      .select(*spec.partition_by[:1]).distinct().collect()]
            if values and len(values) <= 1000:
                column = spec.partition_by[0]
                literal = ", ".join(_sql_literal(v) for v in values if v is not None)
                if literal and None not in values:
                    condition += f" AND t.`{column}` IN ({literal})"
        update_when = None
        if spec.version_column and spec.version_column in target_schema.fieldNames():
            v = spec.version_column
            update_when = f"s.`{v}` >= t.`{v}` OR t.`{v}` IS NULL"
            if "_is_deleted" in batch.columns:
                update_when += " OR s.`_is_deleted` <> t.`_is_deleted`"
        merge = (DeltaTable.forName(self.spark, name).alias("t").merge(batch.alias("s"), condition)
                 .whenMatchedUpdateAll(condition=update_when).whenNotMatchedInsertAll())
        if added:
            merge = merge.withSchemaEvolution()
        merge.execute()
        metrics = _last_operation_metrics(self.spark, name)
        result.inserted = int(metrics.get("numTargetRowsInserted", 0))
        result.updated = int(metrics.get("numTargetRowsUpdated", 0))
        result.added_columns = added
        if added:
            types = {f.name: f.dataType.simpleString() for f in batch.schema.fields}
            result.schema_changes += [SchemaChange(column, "added", types.get(column)) for column in added]
            log.warning("%s: new column(s) %s added to bronze", name, ", ".join(added))
        return int(metrics.get("numSourceRows", 0))

    def _align(self, name: str, batch: DataFrame, target: T.StructType, accept: frozenset[str],
               result: MergeResult) -> tuple[DataFrame, list[str]]:
        """Cast the batch to the table's types where lossless; report new columns."""
        existing = {f.name: f.dataType for f in target.fields}
        present = set(batch.columns)
        for column, data_type in existing.items():
            if column not in present:  # a column null in every row of this batch: its value is null now
                batch = batch.withColumn(column, F.lit(None).cast(data_type))
        added: list[str] = []
        for column in batch.schema.fields:
            if column.name not in existing:
                added.append(column.name)
                continue
            old, new = existing[column.name], column.dataType
            if old == new:
                continue
            if _lossless(new, old):
                batch = batch.withColumn(column.name, F.col(column.name).cast(old))
                continue
            if _lossless(old, new):
                self._widen(name, column.name, new)
                result.schema_changes.append(SchemaChange(column.name, "widened", new.simpleString()))
                continue
            if f"{name}.{column.name}" in accept:
                self._rewrite_column(name, column.name, new)
                result.schema_changes.append(SchemaChange(column.name, "type accepted", new.simpleString(),
                                                          old.simpleString()))
                continue
            hint = ACCEPT_TYPE_CHANGE_HINT.format(table=name, column=column.name)
            raise LoadError(
                f"{name}: column {column.name} changed type from {old.simpleString()} to {new.simpleString()}; "
                f"not loaded to avoid losing data ({hint})"
            )
        return batch, added

    def _widen(self, name: str, column: str, new: T.DataType) -> None:
        """Delta type widening (int to bigint, decimal precision up, date to timestamp): no rewrite."""
        self.spark.sql(f"ALTER TABLE {name} SET TBLPROPERTIES ('delta.enableTypeWidening' = 'true')")
        self.spark.sql(f"ALTER TABLE {name} ALTER COLUMN `{column}` TYPE {new.simpleString()}")

    def _rewrite_column(self, name: str, column: str, new: T.DataType) -> None:
        """An accepted incompatible change: the table is rewritten with the column cast to the new type."""
        frame = self.spark.table(name)
        rewritten = frame.withColumn(column, F.col(column).cast(new))
        (rewritten.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable(name))

    def _write_rejects(self, spec: BronzeTable, name: str, location: str, rejects: DataFrame, template: DataFrame,
                       count: int) -> None:
        """Rejected rows land beside the table; the rejects table always exists, even empty."""
        reject_name = f"{name}__rejects"
        reason = F.concat(F.lit("null primary key: "), F.concat_ws(", ", *[
            F.when(F.col(k).isNull(), F.lit(k)) for k in spec.keys]))
        frame = rejects.withColumn(REJECT_REASON, reason)
        if not self._exists(reject_name):
            first = frame if count else template.limit(0).withColumn(REJECT_REASON, F.lit("").cast("string"))
            first.write.format("delta").mode("append").option("path", location + "__rejects").saveAsTable(reject_name)
        elif count:  # an empty append would still cost a Delta commit per batch
            (frame.write.format("delta").mode("append").option("mergeSchema", "true")
             .saveAsTable(reject_name))


def _sql_literal(value) -> str:
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _last_operation_metrics(spark: SparkSession, name: str) -> dict:
    from delta.tables import DeltaTable

    row = DeltaTable.forName(spark, name).history(1).select("operationMetrics").first()
    return dict(row[0] or {}) if row else {}
