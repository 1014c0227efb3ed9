"""`ingest`: land every catalogued source table (or a selection) in bronze, in one Spark session.

The selection is checked against the registry and the catalog before anything runs; the landing
itself is the runner's (`extract_load.load.runner`), the same for every source.
"""
from __future__ import annotations

from extract_load.config import Config
from extract_load.errors import ConfigError, PipelineError
from extract_load.load.runner import IngestOptions, run
from extract_load.load.runs import RunMetrics
from extract_load.sources import registry
from extract_load.sources.base import Source

__all__ = ["IngestOptions", "select_tables", "run_ingest", "extract_table", "extract_redshift_data",
           "extract_hubspot_data"]


def select_tables(config: Config, source: str | None, tables: list[str] | None,
                  frequency: str | None) -> dict[str, list[str]]:
    """Source -> table names to load; ConfigError (one line) for an unknown source or table, or
    for a source whose settings are wrong."""
    sources = config.configured_sources()
    if source is not None and source not in sources:
        raise ConfigError(f"{config.source_file}: unknown source {source!r}: configured sources are {', '.join(sources)}")
    for name in [source] if source else sources:
        registry.settings(config, name)
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
               frequency: str | None = None, options: IngestOptions = IngestOptions(),
               sources: dict[str, Source] | None = None) -> list[RunMetrics]:
    """Load the selection; returns one RunMetrics per table (failed ones carry their error)."""
    return run(spark, config, select_tables(config, source, tables, frequency), options, sources)


def extract_table(spark, config: Config, source: str, table: str, options: IngestOptions = IngestOptions()):
    """Load one table into bronze (incrementally after its first load); return the bronze table.

    Raises the run's error (SourceError, LoadError, ConfigError) when the table failed to load."""
    runs = run_ingest(spark, config, source, [table], options=options)
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        raise PipelineError(failed[0].error or f"{source}.{table} failed")
    return spark.table(config.bronze_table(source, table))


def extract_redshift_data(spark, config: Config, table: str, full_refresh: bool = False):
    """The seed guide's call: load a Redshift table into bronze, return the bronze DataFrame."""
    return extract_table(spark, config, "redshift", table, IngestOptions(full_refresh=full_refresh))


def extract_hubspot_data(spark, config: Config, object_name: str, options: IngestOptions = IngestOptions()):
    """The seed guide's call: load a HubSpot object into bronze, return the bronze DataFrame."""
    return extract_table(spark, config, "hubspot", object_name, options)
