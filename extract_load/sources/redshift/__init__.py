"""Redshift: the tables catalogued under `redshift:` (config/catalog.yaml), read in chunks.

Public surface:
- `SOURCE`: the source the registry knows as `redshift` (`RedshiftSource(on_chunk=...)` for a
  copy with a hook on every chunk read);
- `redshift_source(config, tables=None, cursors=None)`: a dlt source (one resource per table,
  each yielding Arrow chunks typed from the catalog), usable with any dlt destination;
- `RedshiftExtractor(settings)`: `.check()`, `.plan(table)`, `.extract(...)`, `.unload(...)`;
- `check_connection(config)`: "Redshift connection successful" or a one-line SourceError.

How a table is kept up to date is in README.md beside this file.
"""
from __future__ import annotations

from typing import Callable

import dlt

from extract_load.config import Config
from extract_load.sources.base import Landed, TableInfo
from extract_load.sources.registry import settings as source_settings

from . import settings
from .config import RedshiftConfig, RedshiftTableConfig
from .connection import connect
from .extract import RedshiftExtractor, table_resource
from .reader import Chunk, ChunkReader
from .sql import parse_cursor, window_start

__all__ = ["SOURCE", "RedshiftSource", "RedshiftExtractor", "RedshiftConfig", "RedshiftTableConfig",
           "redshift_source", "table_resource", "check_connection"]


class RedshiftSource:
    """The Redshift source: catalogued tables, incremental by cursor, read over one connection."""

    name = settings.SOURCE
    config_model = RedshiftConfig

    def __init__(self, on_chunk: Callable[[Chunk], None] | None = None):
        self.on_chunk = on_chunk

    def check(self, rs: RedshiftConfig) -> str:
        """Connect and run `SELECT 1`; returns "Redshift connection successful", else raises SourceError."""
        with RedshiftExtractor(rs) as extractor:
            return extractor.check()

    def extractor(self, rs: RedshiftConfig, landed: Landed) -> RedshiftExtractor:
        return RedshiftExtractor(rs, self.on_chunk)

    def table_info(self, rs: RedshiftConfig, table: str) -> TableInfo:
        entry = rs.table(table)
        return TableInfo(time_column=entry.cursor,
                         zorder_by=() if entry.cursor in entry.partition_by else (entry.cursor,),
                         person_columns={entry.name: dict(entry.personal_data)} if entry.personal_data else {})


SOURCE = RedshiftSource()


def check_connection(config: Config) -> str:
    """"Redshift connection successful", or SourceError naming host, database and cause in one line."""
    return SOURCE.check(source_settings(config, settings.SOURCE))


@dlt.source(name=settings.SOURCE, max_table_nesting=0)
def redshift_source(config: Config, tables: list[str] | None = None, cursors: dict[str, str | None] | None = None):
    """One resource per catalogued table (or the named ones), each reading its window in chunks.

    `cursors` maps a table to its stored cursor text (incremental from it minus the lookback);
    a table without one is read in full. Raises SourceError/ConfigError on a bad name.
    """
    rs = source_settings(config, settings.SOURCE)
    names = tables or [t.name for t in rs.tables]
    conn = connect(rs)
    extractor = RedshiftExtractor(rs)
    extractor._conn = conn
    resources = []
    for name in names:
        plan = extractor.plan(name)
        start = window_start(parse_cursor((cursors or {}).get(name), plan.cursor), plan)
        resources.append(table_resource(plan, ChunkReader(conn, plan, start, full=start is None)))
    return resources

