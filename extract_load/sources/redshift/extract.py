"""One Redshift table's run as segments: its window (full, or from the stored cursor minus the
table's lookback) read in bounded chunks, grouped into commits. Each group's checkpoint is the
cursor it reached, so the runner saves a cursor only for rows already in bronze."""
from __future__ import annotations

import uuid
from typing import Any, Callable, Iterator

import dlt

from extract_load.errors import ConfigError, SourceError
from extract_load.sources.base import BronzeTable, Checkpoint, ExtractStats, ParquetFiles, Segment

from . import settings
from .catalog import TablePlan, plan_table, read_catalog
from .config import RedshiftConfig
from .connection import connect, one_line_cause
from .reader import Chunk, ChunkReader, Prefetch
from .sql import cursor_text, parse_cursor, unload_statement, window_start


def table_resource(plan: TablePlan, chunks) -> Any:
    """A dlt resource named after the table, yielding each chunk's Arrow table with catalog hints."""
    def rows() -> Iterator[Any]:
        for chunk in chunks:
            yield chunk.table

    return dlt.resource(rows, name=plan.table, columns=plan.dlt_columns(), primary_key=list(plan.keys),
                        write_disposition="append", max_table_nesting=0)


def bronze_table(plan: TablePlan) -> BronzeTable:
    return BronzeTable(plan.table, plan.keys, plan.partition_by, plan.version_column)


class RedshiftExtractor:
    """Reads configured Redshift tables over one connection (opened on first use).

    `on_chunk(chunk)` is called as each chunk is read, before it is landed (tests use it to
    inject failures; operators could use it for custom progress).
    """

    # a group's reads never depend on the previous group's commit: extract while it lands
    overlap_commits = True

    def __init__(self, rs: RedshiftConfig, on_chunk: Callable[[Chunk], None] | None = None):
        self.rs = rs
        self.on_chunk = on_chunk
        self._conn = None

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
        except Exception as exc:
            raise SourceError(f"Redshift connection check failed: {one_line_cause(exc)}") from None
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

    def plan(self, name: str) -> TablePlan:
        """The table checked against the catalog (SourceError naming an absent table or column)."""
        table = self.rs.table(name)  # ConfigError for a name not in the catalog
        cursor = self.conn.cursor()
        try:
            columns = read_catalog(cursor, self.rs.schema_, table.name)
        finally:
            cursor.close()
        return plan_table(self.rs, table, columns)

    def extract(self, table: str, stored: dict | None, stats: ExtractStats, full_refresh: bool) -> Iterator[Segment]:
        """The window's chunks, `chunks_per_commit` at a time (see `_Group`), one segment each."""
        plan = self.plan(table)
        stats.cursor_before = None if full_refresh or not stored else stored.get("cursor")
        start = window_start(parse_cursor(stats.cursor_before, plan.cursor), plan)
        stats.mode = "incremental" if start is not None else "full"
        reader = ChunkReader(self.conn, plan, start, full=start is None, on_chunk=self.on_chunk)
        window_rows, high = reader.stats()
        stats.requests = reader.queries
        stats.progress("%s load from %s (window %d rows, up to %s), %d rows per chunk", stats.mode,
                       cursor_text(start) or "the beginning", window_rows, cursor_text(high), plan.chunk_rows)
        tables = {plan.table: bronze_table(plan)}
        minimum = int((self.rs.unload or {}).get("min_rows", "0") or 0)
        if self.rs.unload and stats.mode == "full" and window_rows >= minimum > 0:
            uri = self.unload(plan, None, high, stats.load_id)
            stats.chunks = 1
            yield Segment(ParquetFiles(uri.replace("s3://", "s3a://", 1)), tables,
                          lambda: Checkpoint(cursor_text(high), {"mode": "unload", "complete": True}))
            return
        committed = [parse_cursor(stats.cursor_before, plan.cursor)]
        groups = 0
        with Prefetch(reader, depth=settings.PREFETCH_CHUNKS) as chunks:
            pending = next(chunks, None)
            while pending is not None:
                group = _Group(pending, chunks, self.rs.chunks_per_commit, stats, window_rows, plan.chunk_rows)
                groups += 1

                def checkpoint(group: _Group = group) -> Checkpoint:
                    if group.max_cursor is not None and (committed[0] is None or group.max_cursor > committed[0]):
                        committed[0] = group.max_cursor
                    stats.requests = reader.queries
                    return Checkpoint(cursor_text(committed[0]), {"mode": stats.mode, "rows": stats.rows_extracted,
                                                                   "chunks": stats.chunks})

                yield Segment(table_resource(plan, group), tables, checkpoint)
                pending = None if group.exhausted else next(chunks, None)
        stats.requests = reader.queries
        if groups == 0:
            stats.progress("nothing new since %s", stats.cursor_before)

    def unload(self, plan: TablePlan, start: Any = None, high: Any = None, load_id: str = "") -> str:
        """Run UNLOAD of the table's window to Parquet on S3; returns the target prefix.

        Needs `data_sources.redshift.unload: {s3_prefix, iam_role}` (see README for the role).
        """
        if not self.rs.unload or any(k not in self.rs.unload for k in settings.UNLOAD_KEYS):
            raise ConfigError("data_sources.redshift.unload needs s3_prefix and iam_role")
        run = load_id or uuid.uuid4().hex
        sql, target = unload_statement(plan, start, high, self.rs.unload["s3_prefix"], self.rs.unload["iam_role"], run)
        cursor = self.conn.cursor()
        try:
            cursor.execute(sql)
        except Exception as exc:
            raise SourceError(f"Redshift UNLOAD of {plan.schema}.{plan.table} failed: {one_line_cause(exc)}") from None
        finally:
            cursor.close()
        return target


class _Group:
    """Up to `size` chunks for one commit; counts them into the run's stats as they are read.

    A group also takes the window's tail when what is left (by the count taken at the start) is at
    most half a group, never beyond twice its size: a commit has a fixed cost of its own (~10 s of
    Spark on a small machine), too much for a last chunk or two."""

    def __init__(self, first: Chunk, rest: Iterator[Chunk], size: int, stats: ExtractStats, window_rows: int,
                 chunk_rows: int = 0):
        self.first, self.rest, self.size, self.stats, self.window_rows = first, rest, size, stats, window_rows
        self.tail_rows = size // 2 * chunk_rows
        self.count = 0
        self.exhausted = False
        self.max_cursor = None

    def __iter__(self) -> Iterator[Chunk]:
        chunk: Chunk | None = self.first
        while chunk is not None:
            self.count += 1
            s = self.stats
            s.chunks += 1
            s.rows_extracted += chunk.rows
            s.bytes += chunk.nbytes
            if chunk.max_cursor is not None:
                self.max_cursor = chunk.max_cursor
            s.progress("chunk %d (%s): %d rows, %d bytes; %d of ~%d rows read, cursor at %s", chunk.number,
                       chunk.segment, chunk.rows, chunk.nbytes, s.rows_extracted, self.window_rows,
                       cursor_text(self.max_cursor))
            yield chunk
            left = self.window_rows - s.rows_extracted  # an estimate: rows can arrive meanwhile
            if self.count >= 2 * self.size or (self.count >= self.size and left > self.tail_rows):
                return
            chunk = next(self.rest, None)
        self.exhausted = True
