"""The one place every source's tables land, the same way for every source.

For each selected table: the source yields segments (`sources.base.Segment`); each is staged by
dlt (extract + normalise to load files), MERGEd into bronze, and only then is its checkpoint
(cursor, resume position) saved. A table's failure is recorded in its run metrics and the next
table still loads; a source error that would fail every table alike (`SourceUnavailable`) fails
the source's remaining tables with it. The run's metrics go to `ops.ingest_runs`, its schema
changes to `ops.schema_changes`, and the alerts they call for to the configured channels.
"""
from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.sql import SparkSession

from extract_load import alerts
from extract_load.config import Config
from extract_load.errors import LoadError, PipelineError, SourceUnavailable
from extract_load import ops
from extract_load.load.bronze import BronzeWriter, MergeResult
from extract_load.load.dlt_bridge import spark_schema, stage
from extract_load.load.landed import BronzeLanded
from extract_load.load.runs import RunMetrics, new_load_id, record_runs
from extract_load.load.state import StateStore
from extract_load.sources import registry
from extract_load.sources.base import BronzeTable, Checkpoint, Extractor, ParquetFiles, Segment, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    full_refresh: bool = False  # ignore stored cursors: reload everything (MERGE keeps it idempotent)
    accept_type_change: frozenset[str] = field(default_factory=frozenset)  # "bronze.<table>.<column>"


def run(spark: SparkSession, config: Config, selection: dict[str, list[str]],
        options: IngestOptions = IngestOptions(), sources: dict[str, Source] | None = None) -> list[RunMetrics]:
    """Land `selection` (source -> table names) in one load; returns one RunMetrics per table.

    `sources` overrides the registry's source objects by name (e.g. one with a test hook).
    The metrics are recorded and alerted on before this returns."""
    load_id = new_load_id()
    runs: list[RunMetrics] = []
    # The monitoring models read the ops tables even before the first failure. Creating them on a
    # fresh lakehouse takes several Delta commits; that runs beside the first table's extraction.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ops-tables") as pool:
        ops_ready = pool.submit(ops.ensure, spark, config)
        try:
            for name, tables in selection.items():
                source = (sources or {}).get(name) or registry.get(name)
                log.info("%s: loading %s (load %s)", name, ", ".join(tables), load_id)
                runs += land_source(spark, config, source, tables, load_id, options)
        finally:
            ops_ready.result()
    record_runs(spark, config, runs)
    alerts.check_runs(spark, config, runs, expected=[(s, t) for s, names in selection.items() for t in names])
    return runs


def land_source(spark: SparkSession, config: Config, source: Source, tables: list[str], load_id: str,
                options: IngestOptions = IngestOptions()) -> list[RunMetrics]:
    """Land each of `source`'s tables in turn; one RunMetrics per table (a failed one carries its error)."""
    runs = [RunMetrics(source=source.name, object=table, load_id=load_id) for table in tables]
    try:
        extractor = source.extractor(registry.settings(config, source.name), BronzeLanded(spark, config, source.name))
    except PipelineError as exc:
        for m in runs:
            m.finish(error=alerts.scrub(str(exc), config))
        return runs
    unavailable: str | None = None
    with extractor:
        for m in runs:
            if unavailable:
                m.finish(error=unavailable)
                continue
            try:
                TableRun(spark, config, source.name, extractor, m, options).land()
            except PipelineError as exc:
                m.finish(error=alerts.scrub(str(exc), config))
                if isinstance(exc, SourceUnavailable):
                    unavailable = m.error
            except Exception as exc:  # one table's bug must not stop the others; the message is one line
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                m.finish(error=alerts.scrub(f"{type(exc).__name__}: {first}", config))
                log.debug("%s.%s failed", source.name, m.object, exc_info=True)
            else:
                m.finish()
            _report(m)
    return runs


def _report(m: RunMetrics) -> None:
    if m.status == "failed":
        log.error("%s.%s failed: %s", m.source, m.object, m.error)
        return
    m.progress("%s, %s, %d rows (%d inserted, %d updated, %d rejected) in %d chunk(s), %d requests, %d x 429, "
               "%.1f s waited, cursor %s -> %s, %.1f s", m.status, m.mode, m.rows_extracted, m.rows_inserted,
               m.rows_updated, m.rows_rejected, m.chunks, m.requests, m.responses_429, m.wait_seconds,
               m.cursor_before, m.cursor_after, m.duration_s)


class TableRun:
    """One table's segments, each staged, MERGEd and checkpointed in order.

    With an extractor whose reads do not depend on the previous commit (`overlap_commits`), the
    next segment is extracted while the previous one is MERGEd in a worker thread (dlt's decoding
    is Python, Spark's MERGE is the JVM: the GIL is free meanwhile). Commits stay in order: a
    segment's MERGE starts only after the previous segment's checkpoint is saved."""

    def __init__(self, spark: SparkSession, config: Config, source: str, extractor: Extractor, metrics: RunMetrics,
                 options: IngestOptions):
        self.spark, self.config, self.source, self.extractor = spark, config, source, extractor
        self.m, self.options = metrics, options
        self.writer = BronzeWriter(spark, config, metrics.load_id)
        self.state = StateStore(spark, config)
        self.declared: dict[str, BronzeTable] = {}
        self.saved = False
        # two scratch pipelines in turn: one segment may be staged while the previous one loads
        self.pipelines = [f"{source}_{metrics.object}", f"{source}_{metrics.object}__next"]

    def land(self) -> None:
        stored = None if self.options.full_refresh else self.state.get(self.source, self.m.object)
        segments = self.extractor.extract(self.m.object, stored, self.m, self.options.full_refresh)
        overlap = bool(getattr(self.extractor, "overlap_commits", False))
        number = 0
        inflight: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-commit") as committer:
            try:
                for segment in segments:
                    self.declared.update(segment.tables)
                    if segment.data is None:
                        inflight = _settled(inflight)
                        self._save(segment.checkpoint())
                        continue
                    number += 1
                    staged = self._stage(segment, self.pipelines[(number - 1) % 2])
                    checkpoint = segment.checkpoint()
                    inflight = _settled(inflight)
                    if overlap:
                        inflight = committer.submit(self._commit, staged, checkpoint, number)
                    else:
                        self._commit(staged, checkpoint, number)
            finally:
                _settled(inflight)  # a commit under way finishes (or fails) before anything else
        if not self.saved:
            self.m.cursor_after = self.m.cursor_before
        self._ensure_tables()

    def _stage(self, segment: Segment, pipeline: str):
        if isinstance(segment.data, ParquetFiles):
            return _ParquetStaged(self, segment)
        return stage(self.spark, self.config, pipeline, segment.data, self.source, segment.tables, self.writer,
                     self.options.accept_type_change)

    def _commit(self, staged, checkpoint: Checkpoint | None, number: int) -> None:
        """MERGE one staged segment into bronze, then save its checkpoint (never before)."""
        for table, merged in staged.load().items():
            self._record_schema_changes(table, merged)
            if table == self.m.object:
                self.m.absorb(merged)
            else:
                self.m.progress("%s: %d rows in, %d inserted, %d updated", table, merged.rows_in, merged.inserted,
                                merged.updated)
        self._save(checkpoint)
        self.m.progress("commit %d merged (%d inserted, %d updated, %d rejected so far), cursor saved at %s",
                        number, self.m.rows_inserted, self.m.rows_updated, self.m.rows_rejected, self.m.cursor_after)

    def _save(self, checkpoint: Checkpoint | None) -> None:
        if checkpoint is None:
            return
        self.state.put(self.source, self.m.object, checkpoint.cursor, self.m.load_id, **checkpoint.details)
        self.m.cursor_after = checkpoint.cursor
        self.saved = True

    def _record_schema_changes(self, table: str, merged: MergeResult) -> None:
        if not merged.schema_changes:
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        rows = [(self.source, table, merged.table, c.column, c.change, c.old_type, c.new_type, self.m.load_id, now)
                for c in merged.schema_changes]
        ops.append(self.spark, self.config, ops.SCHEMA_CHANGES, rows)

    def _ensure_tables(self) -> None:
        """Every table the source declared exists afterwards, even one no row reached yet."""
        for spec in self.declared.values():
            if spec.columns and not self.spark.catalog.tableExists(self.config.bronze_table(self.source, spec.name)):
                empty = self.spark.createDataFrame([], spark_schema(spec.columns))
                self.writer.merge(self.source, spec, empty)


class _ParquetStaged:
    """A segment the source system exported as Parquet: Spark reads it where it lies."""

    def __init__(self, run: TableRun, segment: Segment):
        if len(segment.tables) != 1:
            raise LoadError(f"{run.source}.{run.m.object}: a Parquet segment must describe exactly one table")
        self.run, self.uri = run, segment.data.uri
        self.spec = next(iter(segment.tables.values()))

    def load(self) -> dict[str, MergeResult]:
        r = self.run
        merged = r.writer.merge(r.source, self.spec, r.spark.read.parquet(self.uri), r.options.accept_type_change)
        r.m.rows_extracted += merged.rows_in + merged.rejected
        return {self.spec.name: merged}


def _settled(future: Future | None) -> None:
    if future is not None:
        future.result()
    return None
