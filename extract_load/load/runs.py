"""Run metrics per source object, kept in `ops.ingest_runs` and shown as progress."""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from extract_load.config import Config
from extract_load.load.bronze import MergeResult

log = logging.getLogger("extract_load.progress")
RUNS_TABLE = "ingest_runs"


def new_load_id() -> str:
    """Sortable and unique: UTC time to the microsecond plus a short random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class RunMetrics:
    run_id: str
    load_id: str
    source: str
    object: str
    status: str = "running"  # success | empty | failed
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(tzinfo=None))
    finished_at: datetime | None = None
    duration_s: float = 0.0
    mode: str = ""  # full | incremental
    rows_extracted: int = 0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    duplicates: int = 0
    chunks: int = 0
    bytes: int = 0
    requests: int = 0
    responses_429: int = 0
    wait_seconds: float = 0.0
    cursor_before: str | None = None
    cursor_after: str | None = None
    error: str | None = None
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def absorb(self, merged: MergeResult) -> None:
        self.rows_inserted += merged.inserted
        self.rows_updated += merged.updated
        self.rows_rejected += merged.rejected
        self.duplicates += merged.duplicates

    def progress(self, message: str, *args) -> None:
        log.info(f"{self.source}.{self.object}: " + message, *args)

    def finish(self, error: str | None = None) -> "RunMetrics":
        self.finished_at = datetime.now(timezone.utc).replace(tzinfo=None)
        self.duration_s = round(time.monotonic() - self._clock, 3)
        if error:
            self.status, self.error = "failed", error
        else:
            self.status = "success" if self.rows_extracted else "empty"
        return self

    def row(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


_SCHEMA = T.StructType([
    T.StructField("run_id", T.StringType()), T.StructField("load_id", T.StringType()),
    T.StructField("source", T.StringType()), T.StructField("object", T.StringType()),
    T.StructField("status", T.StringType()), T.StructField("started_at", T.TimestampType()),
    T.StructField("finished_at", T.TimestampType()), T.StructField("duration_s", T.DoubleType()),
    T.StructField("mode", T.StringType()),
    T.StructField("rows_extracted", T.LongType()), T.StructField("rows_inserted", T.LongType()),
    T.StructField("rows_updated", T.LongType()), T.StructField("rows_rejected", T.LongType()),
    T.StructField("duplicates", T.LongType()), T.StructField("chunks", T.LongType()),
    T.StructField("bytes", T.LongType()), T.StructField("requests", T.LongType()),
    T.StructField("responses_429", T.LongType()), T.StructField("wait_seconds", T.DoubleType()),
    T.StructField("cursor_before", T.StringType()), T.StructField("cursor_after", T.StringType()),
    T.StructField("error", T.StringType()),
])


def record_runs(spark: SparkSession, config: Config, runs: list[RunMetrics]) -> None:
    """Append finished runs to ops.ingest_runs."""
    from extract_load.monitoring.history import append

    if runs:
        append(spark, config, RUNS_TABLE, _SCHEMA, [tuple(r.row()[f.name] for f in _SCHEMA.fields) for r in runs])
