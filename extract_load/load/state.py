"""Incremental cursors kept in the lakehouse (`ops.ingest_state`), not in a local folder.

A fresh worker finds the cursor where the data is; a cursor is written only after the bronze
MERGE it describes has committed, so a crash in between re-extracts a window (harmless: the
MERGE is idempotent) and never skips one.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from extract_load.config import Config

STATE_TABLE = "ingest_state"
_SCHEMA = T.StructType([
    T.StructField("source", T.StringType(), False),
    T.StructField("object", T.StringType(), False),
    T.StructField("cursor", T.StringType()),
    T.StructField("details", T.StringType()),
    T.StructField("load_id", T.StringType()),
    T.StructField("updated_at", T.TimestampType()),
])


class StateStore:
    def __init__(self, spark: SparkSession, config: Config):
        self.spark = spark
        self.config = config
        self.name = config.ops_table(STATE_TABLE)

    def _ensure(self) -> None:
        if self.spark.catalog.tableExists(self.name):
            return
        self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {self.config.lakehouse.ops_schema}")
        (self.spark.createDataFrame([], _SCHEMA).write.format("delta")
         .option("path", self.config.ops_location(STATE_TABLE)).saveAsTable(self.name))

    def get(self, source: str, obj: str) -> dict | None:
        """The stored state {cursor, details...} of one object, or None before its first load."""
        if not self.spark.catalog.tableExists(self.name):
            return None
        row = (self.spark.table(self.name).filter(f"source = '{source}' AND object = '{obj}'")
               .select("cursor", "details", "load_id", "updated_at").first())
        if row is None:
            return None
        details = json.loads(row["details"]) if row["details"] else {}
        return {"cursor": row["cursor"], "load_id": row["load_id"], "updated_at": row["updated_at"], **details}

    def put(self, source: str, obj: str, cursor: str | None, load_id: str, **details) -> None:
        """Record a committed cursor (call only after the bronze MERGE succeeded)."""
        from delta.tables import DeltaTable

        self._ensure()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        row = self.spark.createDataFrame(
            [(source, obj, cursor, json.dumps(details, default=str, sort_keys=True), load_id, now)], _SCHEMA)
        (DeltaTable.forName(self.spark, self.name).alias("t")
         .merge(row.alias("s"), "t.source = s.source AND t.object = s.object")
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())

    def reset(self, source: str, obj: str) -> None:
        """Forget an object's cursor: its next load is a full one."""
        if self.spark.catalog.tableExists(self.name):
            self.spark.sql(f"DELETE FROM {self.name} WHERE source = '{source}' AND object = '{obj}'")
