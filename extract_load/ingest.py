"""`ingest`: land every configured source table (or a selection) in bronze, one Spark session.

Each source package exposes `ingest(spark, config, tables, load_id, options) -> list[RunMetrics]`
and isolates its tables: one table's failure is recorded and the others still load. The run's
metrics go to `ops.ingest_runs`; the caller decides the exit code from them.
"""
from __future__ import annotations

import importlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from extract_load.config import Config
from extract_load.errors import ConfigError
from extract_load.load.runs import RunMetrics, new_load_id, record_runs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOptions:
    full_refresh: bool = False  # ignore stored cursors: reload everything (MERGE keeps it idempotent)
    accept_type_change: frozenset[str] = field(default_factory=frozenset)  # "bronze.<table>.<column>"


def select_tables(config: Config, source: str | None, tables: list[str] | None,
                  frequency: str | None) -> dict[str, list[str]]:
    """Source -> table names to load; raises ConfigError for an unknown source or table."""
    sources = config.configured_sources()
    if source is not None and source not in sources:
        raise ConfigError(f"{config.source_file}: unknown source {source!r}: configured sources are {', '.join(sources)}")
    chosen: dict[str, list[str]] = {}
    for src, table in config.source_tables(source):
        if frequency and config.frequency(src, table) != frequency:
            continue
        chosen.setdefault(src, []).append(table)
    if tables:
        known = {t for _, t in config.source_tables(source)}
        for table in tables:
            if table not in known:
                where = f"source {source}" if source else "any source"
                raise ConfigError(f"{config.source_file}: unknown table {table!r} for {where}: configured are {', '.join(sorted(known))}")
        chosen = {src: [t for t in names if t in tables] for src, names in chosen.items()}
    return {src: names for src, names in chosen.items() if names}


def run_ingest(spark, config: Config, source: str | None = None, tables: list[str] | None = None,
               frequency: str | None = None, options: IngestOptions = IngestOptions()) -> list[RunMetrics]:
    """Load the selection; returns one RunMetrics per table (failed ones carry their error)."""
    from extract_load.monitoring.history import ensure_ops_tables

    selection = select_tables(config, source, tables, frequency)
    load_id = new_load_id()
    runs: list[RunMetrics] = []
    # The monitoring models read the ops tables even before the first failure. Creating them on a
    # fresh lakehouse takes several Delta commits; that runs beside the first table's extraction.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ops-tables") as pool:
        ops_ready = pool.submit(ensure_ops_tables, spark, config)
        try:
            for src, names in selection.items():
                module = importlib.import_module(f"extract_load.sources.{src}")
                log.info("%s: loading %s (load %s)", src, ", ".join(names), load_id)
                runs += module.ingest(spark, config, names, load_id, options)
        finally:
            ops_ready.result()
    record_runs(spark, config, runs)
    return runs
