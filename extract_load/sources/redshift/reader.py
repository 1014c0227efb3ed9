"""Reading one table's window in bounded chunks, and reading ahead while the previous commit lands."""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import pyarrow as pa

from extract_load.errors import SourceError

from .arrow import decode
from .catalog import TablePlan
from .connection import one_line_cause
from .sql import keyset_statement, null_cursor_statement, null_key_statement, stats_statement


@dataclass
class Chunk:
    number: int
    segment: str  # rejects | no_cursor | cursor
    table: pa.Table
    rows: int
    nbytes: int
    max_cursor: Any = None


@dataclass
class ChunkReader:
    """Reads one table's window as bounded chunks; each query returns at most `chunk_rows` rows.

    Order: null-key rows (bound for rejects), then rows without a cursor value, then the cursor
    range in (cursor, key) keyset order up to the high-water mark taken at the start. So a saved
    cursor always means every earlier part of the window is in bronze.
    """

    conn: Any
    plan: TablePlan
    start: Any  # inclusive lower bound; None for a full load
    full: bool
    on_chunk: Callable[[Chunk], None] | None = None
    queries: int = 0
    window_rows: int | None = None
    high: Any = None
    _number: int = field(default=0, repr=False)

    def _run(self, sql: str, params: list) -> list:
        cursor = self.conn.cursor()
        try:
            self.queries += 1
            cursor.execute(sql, params or None)
            return cursor.fetchall() or []
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"Redshift query on {self.plan.schema}.{self.plan.table} failed: {one_line_cause(exc)}") from None
        finally:
            cursor.close()

    def stats(self) -> tuple[int, Any]:
        sql, params = stats_statement(self.plan, self.start)
        (count, high), = self._run(sql, params)
        self.window_rows, self.high = int(count), high
        return self.window_rows, self.high

    def _emit(self, segment: str, rows: list) -> Chunk:
        self._number += 1
        table = decode(self.plan, rows)
        max_cursor = None
        if segment == "cursor":
            max_cursor = table.column(self.plan.cursor.name)[-1].as_py()
        chunk = Chunk(self._number, segment, table, len(rows), table.nbytes, max_cursor)
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        if self.window_rows is None:
            self.stats()
        limit = self.plan.chunk_rows
        keys = list(self.plan.keys)
        offset = 0
        if self.high is not None or self.full:
            while True:
                sql, params = null_key_statement(self.plan, self.start, self.high, self.full, limit, offset)
                rows = self._run(sql, params)
                if rows:
                    yield self._emit("rejects", rows)
                if len(rows) < limit:
                    break
                offset += limit
        after = None
        while True:
            sql, params = null_cursor_statement(self.plan, after, limit)
            rows = self._run(sql, params)
            if rows:
                chunk = self._emit("no_cursor", rows)
                after = _last(chunk.table, keys)
                yield chunk
            if len(rows) < limit:
                break
        if self.high is None:
            return
        order = [self.plan.cursor.name, *keys]
        after = None
        while True:
            sql, params = keyset_statement(self.plan, self.start, self.high, after, limit)
            rows = self._run(sql, params)
            if rows:
                chunk = self._emit("cursor", rows)
                after = _last(chunk.table, order)
                yield chunk
            if len(rows) < limit:
                break


def _last(table: pa.Table, names: list[str]) -> list:
    """The last row's values of `names`: where the next keyset page starts."""
    return [table.column(name)[-1].as_py() for name in names]


class Prefetch:
    """Iterates `chunks` in a thread of its own, at most `depth` chunks ahead of the consumer.

    Why: the driver decodes rows in pure Python while the loader mostly waits on Spark (a py4j
    call releases the GIL), so reading the next chunks overlaps the MERGE of the current ones.
    Memory stays bounded by the chunk size: `depth` queued chunks plus the one being read. An
    error in the reader (the driver's, or an `on_chunk` hook's) is raised to the consumer at the
    point where that chunk would have arrived, so failure behaviour is the same as reading inline.
    `close()` stops the reader; call it before the connection is used for anything else.
    """

    def __init__(self, chunks, depth: int = 1):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._read, args=(chunks,), name="redshift-reader", daemon=True)
        self._thread.start()

    def _read(self, chunks) -> None:
        try:
            for chunk in chunks:
                if not self._put(("chunk", chunk)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(("error", exc))
            return
        self._put(("end", None))

    def _put(self, message) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> "Prefetch":
        return self

    def __next__(self) -> Chunk:
        if self._finished:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == "chunk":
            return value
        self._finished = True
        self._thread.join()
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.2)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self) -> "Prefetch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
