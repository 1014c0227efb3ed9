"""HubSpot CRM -> bronze: objects, their properties and associations, kept up to date incrementally.

Public surface:
  ingest(spark, config, object_names, load_id, options) -> list[RunMetrics]   (the ingest command)
  extract_hubspot_data(spark, config, "contacts") -> DataFrame                  (load one object)
  check_connection(config) -> "HubSpot API connection successful" or SourceError
  HubSpotAPI(config)                                                            (the HTTP client)
  hubspot_source(segment)                                                       (the dlt source)

What lands where and how it is kept up to date: README.md beside this file.
"""
from __future__ import annotations

import logging
import uuid
from typing import Any, Iterator

import dlt

from extract_load.config import Config
from extract_load.errors import PipelineError, SourceError
from extract_load.load.bronze import BronzeWriter
from extract_load.load.runs import RunMetrics, new_load_id, record_runs
from extract_load.load.state import StateStore

from . import settings
from .budget import DailyLimitReached
from .helpers import AuthenticationError, HubSpotAPI, hubspot_config
from .mapping import association_columns
from .sync import ObjectSync, Segment

__all__ = ["HubSpotAPI", "check_connection", "extract_hubspot_data", "hubspot_source", "ingest",
           "AuthenticationError", "DailyLimitReached"]

log = logging.getLogger(__name__)
CONNECTION_OK = "HubSpot API connection successful"


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_source(segment: Segment) -> Any:
    """One checkpoint's worth of one object: its records and association rows, typed by hints."""
    return crm_object(segment).with_name(segment.sync.name)


@dlt.resource(write_disposition="append", max_table_nesting=0)
def crm_object(segment: Segment) -> Iterator[Any]:
    """Rows of `<object>` and `<object>_to_<type>`; every item carries its table's column hints."""
    failure = None
    try:
        yield from segment.items()
    except PipelineError:
        raise
    except Exception as exc:  # dlt would wrap it past recognition: name it in one line
        first = str(exc).splitlines()[0] if str(exc) else ""
        failure = f"hubspot.{segment.sync.name}: extraction failed: {type(exc).__name__}: {first}"[:500]
    if failure:
        raise SourceError(segment.sync.api._redact(failure))


@dlt.source(name="hubspot_links", max_table_nesting=0)
def links_source(table: str, rows: list[dict]) -> Any:
    """Association rows of one table re-read outside their object's run (links to records gone)."""
    hints = dlt.mark.make_hints(table_name=table, columns=association_columns())
    return dlt.resource([dlt.mark.with_hints(rows, hints, create_table_variant=True)], name=table,
                        write_disposition="append", max_table_nesting=0)


def ingest(spark, config: Config, object_names: list[str], load_id: str, options=None) -> list[RunMetrics]:
    """Load each named object (and its associations) into bronze; one RunMetrics per object.

    An object's failure is recorded in its metrics and the others still load, except after a
    rejected token, which would fail the same way for every object.
    """
    from extract_load.ingest import IngestOptions

    options = options or IngestOptions()
    hubspot = hubspot_config(config)
    api = HubSpotAPI(hubspot)
    writer = BronzeWriter(spark, config, load_id)
    state = StateStore(spark, config)
    runs: list[RunMetrics] = []
    fatal: str | None = None
    for name in object_names:
        endpoint = hubspot.endpoint(name)
        metrics = RunMetrics(run_id=uuid.uuid4().hex, load_id=load_id, source=settings.SOURCE, object=name)
        runs.append(metrics)
        if fatal:
            metrics.finish(error=fatal)
            continue
        sync = ObjectSync(spark, config, api, endpoint, writer, state, metrics,
                          full_refresh=options.full_refresh, accept_type_change=options.accept_type_change)
        try:
            sync.run()
        except PipelineError as exc:
            _fail(sync, metrics, str(exc))
            if isinstance(exc, (AuthenticationError, DailyLimitReached)):
                fatal = str(exc)
            continue
        except Exception as exc:  # one object's bug must not stop the others; the message is one line
            _fail(sync, metrics, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:500])
            log.debug("hubspot.%s failed", name, exc_info=True)
            continue
        sync._progress(force=True, note="finished")
        metrics.finish()
        log.info("hubspot.%s: %s, %d records (%d inserted, %d updated), %d requests, %d x 429, "
                 "%.1f s waited, cursor %s -> %s", name, metrics.mode, metrics.rows_extracted,
                 metrics.rows_inserted, metrics.rows_updated, metrics.requests, metrics.responses_429,
                 metrics.wait_seconds, metrics.cursor_before, metrics.cursor_after)
    return runs


def _fail(sync: ObjectSync, metrics: RunMetrics, message: str) -> None:
    message = sync.api._redact(message)
    sync._progress(force=True, note="failed")
    metrics.finish(error=message)
    log.error("hubspot.%s failed: %s", metrics.object, message)


def extract_hubspot_data(spark, config: Config, object_name: str, options=None):
    """Load one object into bronze (incrementally after the first run); return the bronze table.

    Raises the run's error (SourceError, LoadError) when the object failed to load.
    """
    load_id = new_load_id()
    runs = ingest(spark, config, [object_name], load_id, options)
    record_runs(spark, config, runs)
    failed = [r for r in runs if r.status == "failed"]
    if failed:
        raise SourceError(failed[0].error or f"hubspot.{object_name} failed")
    return spark.table(config.bronze_table(settings.SOURCE, object_name))


def check_connection(config: Config) -> str:
    """`HubSpot API connection successful`, or SourceError naming the problem in one line
    (token rejected (401), missing scope (403), host unreachable)."""
    HubSpotAPI(config, max_attempts=2).check()
    return CONNECTION_OK
