"""Run metrics per source table: what the source reported while extracting, plus what landing
added; kept in `ops.ingest_runs`."""
from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from pyspark.sql import SparkSession

from extract_load.config import Config
from extract_load import ops
from extract_load.sources.base import ExtractStats


def new_load_id() -> str:
    """Sortable and unique: UTC time to the microsecond plus a short random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class RunMetrics(ExtractStats):
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    status: str = "running"  # success | empty | failed
    started_at: datetime = field(default_factory=_utcnow)
    finished_at: datetime | None = None
    duration_s: float = 0.0
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_rejected: int = 0
    duplicates: int = 0
    cursor_after: str | None = None
    error: str | None = None

    def absorb(self, merged) -> None:
        """Add one MERGE's counts (a `bronze.MergeResult`)."""
        self.rows_inserted += merged.inserted
        self.rows_updated += merged.updated
        self.rows_rejected += merged.rejected
        self.duplicates += merged.duplicates

    def finish(self, error: str | None = None) -> "RunMetrics":
        self.finished_at = _utcnow()
        self.duration_s = round(time.monotonic() - self._clock, 3)
        if error:
            self.status, self.error = "failed", error
        else:
            self.status = "success" if self.rows_extracted else "empty"
        return self

    def row(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}


def record_runs(spark: SparkSession, config: Config, runs: list[RunMetrics]) -> None:
    """Append finished runs to ops.ingest_runs."""
    if runs:
        ops.append(spark, config, ops.INGEST_RUNS, ops.rows_of(ops.INGEST_RUNS, [r.row() for r in runs]))
