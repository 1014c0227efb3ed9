"""Redshift -> bronze: a dlt source whose tables come from `data_sources.redshift.tables`.

Public surface:
- `redshift_source(config, tables=None, cursors=None)`: the dlt source (one resource per table,
  each yielding Arrow chunks typed from the catalog), usable with any dlt destination;
- `ingest(spark, config, tables, load_id, options)`: the `python -m extract_load ingest` entry;
- `RedshiftExtractor(spark, config)`: `.check()`, `.load(table, ...)`, `.unload(table, ...)`;
- `extract_redshift_data(spark, config, table)`: load one table, return its bronze DataFrame;
- `check_connection(config)`: "Redshift connection successful" or a one-line SourceError.

How a table is kept up to date is in README.md beside this file.
"""
from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import dlt

from extract_load.config import Config, RedshiftConfig
from extract_load.errors import ConfigError, PipelineError, SourceError
from extract_load.sources.redshift import settings
from extract_load.sources.redshift.helpers import (
    Chunk, ChunkReader, Prefetch, TablePlan, connect, cursor_text, parse_cursor, plan_table, read_catalog,
    unload_statement, window_start,
)

log = logging.getLogger(__name__)

__all__ = ["redshift_source", "table_resource", "ingest", "RedshiftExtractor", "extract_redshift_data",
           "check_connection"]


def _redshift(config: Config) -> RedshiftConfig:
    rs = config.data_sources.redshift
    if rs is None:
        raise ConfigError(f"{config.source_file}: data_sources.redshift is not configured")
    return rs


def table_resource(plan: TablePlan, chunks: Iterable[Chunk]):
    """A dlt resource named after the table, yielding each chunk's Arrow table with catalog hints."""
    def rows() -> Iterator[Any]:
        for chunk in chunks:
            yield chunk.table

    return dlt.resource(rows, name=plan.table, columns=plan.dlt_columns(), primary_key=list(plan.keys),
                        write_disposition="append", max_table_nesting=0)


@dlt.source(name=settings.SOURCE, max_table_nesting=0)
def redshift_source(config: Config, tables: list[str] | None = None, cursors: dict[str, str | None] | None = None):
    """One resource per configured table (or the named ones), each reading its window in chunks.

    `cursors` maps a table to its stored cursor text (incremental from it minus the lookback);
    a table without one is read in full. Raises SourceError/ConfigError on a bad name.
    """
    rs = _redshift(config)
    names = tables or [t.name for t in rs.tables]
    conn = connect(rs)
    resources = []
    for name in names:
        plan = _plan(conn, rs, name)
        stored = parse_cursor((cursors or {}).get(name), plan.cursor)
        start = window_start(stored, plan)
        resources.append(table_resource(plan, ChunkReader(conn, plan, start, full=start is None)))
    return resources


def _plan(conn, rs: RedshiftConfig, name: str) -> TablePlan:
    table = rs.table(name)  # ConfigError for a name not in the config
    cursor = conn.cursor()
    try:
        columns = read_catalog(cursor, rs.schema_, table.name)
    finally:
        cursor.close()
    return plan_table(rs, table, columns)


def check_connection(config: Config) -> str:
    """Connect and run `SELECT 1`; returns "Redshift connection successful", else raises SourceError."""
    rs = _redshift(config)
    conn = connect(rs)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
    except Exception as exc:
        from extract_load.sources.redshift.helpers import describe_target, one_line_cause
        raise SourceError(f"Redshift connection failed ({describe_target(rs)}): {one_line_cause(exc)}") from None
    finally:
        conn.close()
    return settings.CONNECTION_OK


class RedshiftExtractor:
    """Loads configured Redshift tables into bronze over one connection (opened on first use).

    `on_chunk(chunk)` is called as each chunk is read, before it is landed (tests use it to
    inject failures; operators could use it for custom progress).
    """

    def __init__(self, spark, config: Config, on_chunk: Callable[[Chunk], None] | None = None):
        self.spark = spark
        self.config = config
        self.rs = _redshift(config)
        self.on_chunk = on_chunk
        self._conn = None

    # connection ---------------------------------------------------------------
    @property
    def conn(self):
        if self._conn is None:
            self._conn = connect(self.rs)
        return self._conn

    def check(self) -> str:
        """Open the connection and run `SELECT 1`; returns the success message or raises SourceError."""
        cursor = self.conn.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()
        return settings.CONNECTION_OK

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a broken connection is not worth an error
                pass
            self._conn = None

    def __enter__(self) -> "RedshiftExtractor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # planning -------------------------------------------------------------------
    def plan(self, name: str) -> TablePlan:
        """The table checked against the catalog (SourceError naming an absent table or column)."""
        return _plan(self.conn, self.rs, name)

    def spec(self, plan: TablePlan):
        from extract_load.load.bronze import TableSpec

        return TableSpec(source=settings.SOURCE, table=plan.table, keys=plan.keys,
                         partition_by=plan.partition_by, version_column=plan.version_column)

    # loading ------------------------------------------------------------------
    def load(self, name: str, load_id: str | None = None, full_refresh: bool = False,
             accept_type_change: frozenset[str] = frozenset(), metrics=None):
        """Land one table in bronze (incremental unless first run or `full_refresh`); returns RunMetrics.

        Every `chunks_per_commit` chunks are MERGEd in one commit and only then is the
        cursor saved, so a failure loses at most the uncommitted group, which the next run reads
        again. Raises PipelineError (SourceError, LoadError, ConfigError) on failure.
        """
        from extract_load.load.bronze import BronzeWriter
        from extract_load.load.dlt_bridge import stage
        from extract_load.load.runs import RunMetrics, new_load_id
        from extract_load.load.state import StateStore

        load_id = load_id or new_load_id()
        m = metrics or RunMetrics(run_id=uuid.uuid4().hex, load_id=load_id, source=settings.SOURCE, object=name)
        plan = self.plan(name)
        state = StateStore(self.spark, self.config)
        stored = None if full_refresh else state.get(settings.SOURCE, name)
        m.cursor_before = stored["cursor"] if stored else None
        start = window_start(parse_cursor(m.cursor_before, plan.cursor), plan)
        m.mode = "incremental" if start is not None else "full"
        reader = ChunkReader(self.conn, plan, start, full=start is None, on_chunk=self.on_chunk)
        window_rows, high = reader.stats()
        m.progress("%s load from %s (window %d rows, up to %s), %d rows per chunk", m.mode,
                   cursor_text(start) or "the beginning", window_rows, cursor_text(high), plan.chunk_rows)
        if self.rs.unload and m.mode == "full" and window_rows >= int(self.rs.unload.get("min_rows", "0") or 0) > 0:
            return self._load_unloaded(plan, load_id, high, m, accept_type_change, state)

        writer = BronzeWriter(self.spark, self.config, load_id)
        specs = {plan.table: self.spec(plan)}
        committed = parse_cursor(m.cursor_before, plan.cursor)
        # Two scratch pipelines in turn: group N+1 is extracted (pure-Python decoding in dlt) while
        # group N is MERGEd and its cursor saved in a worker thread (Spark; the GIL is free). Commits
        # stay in order: a group's MERGE starts only after the previous group's cursor is saved.
        names = [f"{settings.PIPELINE_PREFIX}_{plan.table}", f"{settings.PIPELINE_PREFIX}_{plan.table}__next"]
        group_no = 0
        inflight = None
        with Prefetch(reader, depth=settings.PREFETCH_CHUNKS) as chunks, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-commit") as committer:
            try:
                pending = next(chunks, None)
                while pending is not None:
                    group = _Group(pending, chunks, self.rs.chunks_per_commit, m, window_rows, plan.chunk_rows)
                    group_no += 1
                    staged = stage(self.spark, self.config, names[(group_no - 1) % 2], table_resource(plan, group), specs,
                                   writer, accept_type_change)
                    if group.max_cursor is not None and (committed is None or group.max_cursor > committed):
                        committed = group.max_cursor
                    if inflight is not None:
                        inflight.result()
                    inflight = committer.submit(self._commit, staged, plan, committed, group_no, group.count,
                                                (m.rows_extracted, m.chunks), load_id, state, reader, m)
                    pending = None if group.exhausted else next(chunks, None)
            finally:
                if inflight is not None:  # a commit under way finishes (or fails) before anything else
                    inflight.result()
        m.requests = reader.queries
        if group_no == 0:
            m.cursor_after = m.cursor_before
            m.progress("nothing new since %s", m.cursor_before)
        return m

    def _commit(self, staged, plan: TablePlan, committed: Any, group_no: int, chunks: int, read: tuple[int, int],
                load_id: str, state, reader: ChunkReader, m) -> None:
        """MERGE one staged group into bronze, then save the cursor it reached (never before).

        `read` is (rows, chunks) read up to the end of this group, as the cursor's details."""
        for merged in staged.load().values():
            m.absorb(merged)
        state.put(settings.SOURCE, plan.table, cursor_text(committed), load_id, mode=m.mode,
                  rows=read[0], chunks=read[1])
        m.requests = reader.queries
        m.cursor_after = cursor_text(committed)
        m.progress("commit %d: %d chunk(s) merged (%d inserted, %d updated, %d rejected so far), cursor saved at %s",
                   group_no, chunks, m.rows_inserted, m.rows_updated, m.rows_rejected, m.cursor_after)

    def _load_unloaded(self, plan: TablePlan, load_id: str, high: Any, m, accept, state):
        """Full load through UNLOAD to S3 and Spark (tables larger than a worker should hold)."""
        from pyspark.sql import functions as F

        from extract_load.load.bronze import BronzeWriter

        target = self.unload(plan.table, load_id, high=high)
        frame = self.spark.read.parquet(target.replace("s3://", "s3a://", 1))
        for name in plan.derived_dates:
            frame = frame.withColumn(name, F.to_date(F.col(plan.cursor.name)))
        merged = BronzeWriter(self.spark, self.config, load_id).merge(self.spec(plan), frame, accept)
        m.absorb(merged)
        m.rows_extracted = merged.rows_in + merged.rejected
        m.chunks = 1
        m.cursor_after = cursor_text(high)
        state.put(settings.SOURCE, plan.table, m.cursor_after, load_id, mode="unload", rows=m.rows_extracted, complete=True)
        return m

    def unload(self, name: str, load_id: str, start: Any = None, high: Any = None) -> str:
        """Run UNLOAD of the table's window to Parquet on S3; returns the target prefix.

        Needs `data_sources.redshift.unload: {s3_prefix, iam_role}` (see README for the role).
        """
        if not self.rs.unload or any(k not in self.rs.unload for k in settings.UNLOAD_KEYS):
            raise ConfigError("data_sources.redshift.unload needs s3_prefix and iam_role")
        plan = self.plan(name)
        sql, target = unload_statement(plan, start, high, self.rs.unload["s3_prefix"], self.rs.unload["iam_role"], load_id)
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
        except Exception as exc:
            from extract_load.sources.redshift.helpers import one_line_cause
            raise SourceError(f"Redshift UNLOAD of {plan.schema}.{plan.table} failed: {one_line_cause(exc)}") from None
        finally:
            cursor.close()
        return target


class _Group:
    """Up to `size` chunks for one commit; counts them into the run metrics as they are read.

    A group also takes the window's tail when what is left (by the count taken at the start) is at
    most half a group, never beyond twice its size: a commit has a fixed cost of its own (~10 s of
    Spark on a small machine), too much for a last chunk or two."""

    def __init__(self, first: Chunk, rest: Iterator[Chunk], size: int, metrics, window_rows: int, chunk_rows: int = 0):
        self.first, self.rest, self.size, self.m, self.window_rows = first, rest, size, metrics, window_rows
        self.tail_rows = size // 2 * chunk_rows
        self.count = 0
        self.exhausted = False
        self.max_cursor = None

    def __iter__(self) -> Iterator[Chunk]:
        chunk: Chunk | None = self.first
        while chunk is not None:
            self.count += 1
            m = self.m
            m.chunks += 1
            m.rows_extracted += chunk.rows
            m.bytes += chunk.nbytes
            if chunk.max_cursor is not None:
                self.max_cursor = chunk.max_cursor
            m.progress("chunk %d (%s): %d rows, %d bytes; %d of ~%d rows read, cursor at %s", chunk.number,
                       chunk.segment, chunk.rows, chunk.nbytes, m.rows_extracted, self.window_rows,
                       cursor_text(self.max_cursor))
            yield chunk
            left = self.window_rows - self.m.rows_extracted  # an estimate: rows can arrive meanwhile
            if self.count >= 2 * self.size or (self.count >= self.size and left > self.tail_rows):
                return
            chunk = next(self.rest, None)
        self.exhausted = True


def ingest(spark, config: Config, tables: list[str], load_id: str, options) -> list:
    """Load each named table; returns one RunMetrics per table (a failed table carries its error).

    Tables are isolated: one failing (source error, type change) does not stop the others.
    """
    from extract_load.load.runs import RunMetrics

    runs: list = []
    with RedshiftExtractor(spark, config) as extractor:
        for name in tables:
            m = RunMetrics(run_id=uuid.uuid4().hex, load_id=load_id, source=settings.SOURCE, object=name)
            try:
                extractor.load(name, load_id, full_refresh=options.full_refresh,
                               accept_type_change=frozenset(options.accept_type_change), metrics=m)
                m.finish()
            except PipelineError as exc:
                m.finish(str(exc))
                log.error("redshift.%s: %s", name, exc)
            except Exception as exc:  # anything else is a bug, but the other tables still load
                m.finish(f"{type(exc).__name__}: {exc}".splitlines()[0])
                log.exception("redshift.%s failed", name)
            m.progress("%s: %d rows in %d chunks (%d bytes) in %.1fs; cursor %s -> %s", m.status, m.rows_extracted,
                       m.chunks, m.bytes, m.duration_s, m.cursor_before, m.cursor_after)
            runs.append(m)
    return runs


def extract_redshift_data(spark, config: Config, table: str, full_refresh: bool = False):
    """Load `table` into bronze (incrementally) and return the bronze DataFrame; raises PipelineError."""
    with RedshiftExtractor(spark, config) as extractor:
        m = extractor.load(table, full_refresh=full_refresh)
    m.finish()
    return spark.table(config.bronze_table(settings.SOURCE, table))
