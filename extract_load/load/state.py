"""Incremental cursors kept in the lakehouse (`ops.ingest_state`), not in a local folder.

A fresh worker finds the cursor where the data is; the runner writes a cursor only after the
bronze MERGE it describes has committed, so a crash in between re-extracts a window (harmless:
the MERGE is idempotent) and never skips one.
"""
from __future__ import annotations

import json

from pyspark.sql import SparkSession

from extract_load.config import Config
from extract_load import ops


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class StateStore:
    def __init__(self, spark: SparkSession, config: Config):
        self.spark = spark
        self.config = config
        self.name = ops.INGEST_STATE.qualified(config)

    def _ensure(self) -> None:
        ops.ensure(self.spark, self.config, (ops.INGEST_STATE,))

    def get(self, source: str, obj: str) -> dict | None:
        """The stored state {cursor, details...} of one object, or None before its first load."""
        if not self.spark.catalog.tableExists(self.name):
            return None
        row = (self.spark.table(self.name).filter(f"source = {_quoted(source)} AND object = {_quoted(obj)}")
               .select("cursor", "details", "load_id", "updated_at").first())
        if row is None:
            return None
        details = json.loads(row["details"]) if row["details"] else {}
        return {"cursor": row["cursor"], "load_id": row["load_id"], "updated_at": row["updated_at"], **details}

    def put(self, source: str, obj: str, cursor: str | None, load_id: str, **details) -> None:
        """Record a committed cursor (call only after the bronze MERGE succeeded)."""
        from datetime import datetime, timezone

        from delta.tables import DeltaTable

        self._ensure()
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        row = self.spark.createDataFrame(
            [(source, obj, cursor, json.dumps(details, default=str, sort_keys=True), load_id, now)],
            ops.INGEST_STATE.schema)
        (DeltaTable.forName(self.spark, self.name).alias("t")
         .merge(row.alias("s"), "t.source = s.source AND t.object = s.object")
         .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())

    def reset(self, source: str, obj: str) -> None:
        """Forget an object's cursor: its next load is a full one."""
        if self.spark.catalog.tableExists(self.name):
            self.spark.sql(f"DELETE FROM {self.name} WHERE source = {_quoted(source)} AND object = {_quoted(obj)}")
