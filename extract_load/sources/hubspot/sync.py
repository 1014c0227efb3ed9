"""One object's run: what to extract (full or incremental), landed in checkpointed segments.

Cursor (`ops.ingest_state`, written only after the bronze MERGE committed):
  cursor   the high-water mark: HubSpot's newest last-modified value when the last completed run
           started; every change up to it is in bronze.
  resume   while a run is under way, where its last committed segment ended (list and page
           cursor of a full load, or window and last id of an incremental one); a re-run after a
           crash carries on from there.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from pyspark.sql import SparkSession

from extract_load.config import Config, HubSpotEndpointConfig
from extract_load.load.bronze import BronzeWriter, TableSpec
from extract_load.load.dlt_bridge import land
from extract_load.load.runs import RunMetrics
from extract_load.load.state import StateStore

from . import settings
from .helpers import HubSpotAPI, object_type
from .mapping import (association_columns, association_rows, parse_datetime, record_columns,
                      record_row, spark_schema)

log = logging.getLogger(__name__)

Batch = tuple[list[dict], dict]   # raw records, the checkpoint reached after them


def table_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name.lower())


def association_table(from_name: str, to_type: str) -> str:
    return f"{from_name}_to_{table_name(to_type)}"


def to_ms(value: str | datetime) -> int:
    moment = value if isinstance(value, datetime) else parse_datetime(value)
    return int(moment.timestamp() * 1000)


def iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class ObjectSync:
    """Loads one configured HubSpot object (and its associations) into bronze."""

    def __init__(self, spark: SparkSession, config: Config, api: HubSpotAPI, endpoint: HubSpotEndpointConfig,
                 writer: BronzeWriter, state: StateStore, metrics: RunMetrics, full_refresh: bool = False,
                 accept_type_change: frozenset[str] = frozenset()):
        self.spark, self.config, self.api, self.endpoint = spark, config, api, endpoint
        self.writer, self.state, self.metrics = writer, state, metrics
        self.full_refresh, self.accept_type_change = full_refresh, accept_type_change
        self.name = endpoint.name
        self.type = object_type(endpoint)
        self.hubspot = api.config
        self.associations = [(to, association_table(self.name, to)) for to in endpoint.associations]
        self.specs = {self.name: TableSpec(settings.SOURCE, self.name, ("id",), version_column="updated_at")}
        for _, table in self.associations:
            self.specs[table] = TableSpec(settings.SOURCE, table, settings.ASSOCIATION_KEYS)
        self._last_progress = 0.0
        self.gone_ids: set[str] = set()   # archived or merged away in this run: other objects' links to them go stale
        self._stats_base = api.stats.snapshot()

    # --- properties ---------------------------------------------------------------------------
    def resolve_properties(self) -> dict[str, str]:
        """{property: HubSpot type} to extract: the configured list (or every property), in order."""
        defined = {p["name"]: p.get("type", "string") for p in self.api.properties(self.type)}
        if self.endpoint.properties == "all":
            wanted = list(defined)
        else:
            wanted = list(dict.fromkeys([*self.endpoint.properties, *settings.ALWAYS_PROPERTIES,
                                         self.endpoint.last_modified_property]))
            unknown = [p for p in wanted if p not in defined]
            if unknown:
                log.warning("hubspot.%s: configured properties not defined in HubSpot (kept as empty string "
                            "columns): %s", self.name, ", ".join(unknown))
        for always in (*settings.ALWAYS_PROPERTIES, self.endpoint.last_modified_property,
                       settings.MERGED_IDS_PROPERTY):
            if always in defined and always not in wanted:
                wanted.append(always)
        return {p: defined.get(p, "string") for p in wanted}

    # --- the run ------------------------------------------------------------------------------
    def run(self) -> None:
        self.property_types = self.resolve_properties()
        self.property_names = list(self.property_types)
        self.columns = record_columns(self.property_types)
        stored = self.state.get(settings.SOURCE, self.name) or {}
        cursor = stored.get("cursor")
        resume = None if self.full_refresh else stored.get("resume")
        self.metrics.cursor_before = cursor
        self.metrics.cursor_after = cursor
        if self.full_refresh or not cursor or (resume and resume.get("mode") == "full"):
            self.metrics.mode = "full"
            self._full(cursor, resume if resume and resume.get("mode") == "full" else None)
        else:
            self.metrics.mode = "incremental"
            self._incremental(cursor, resume)

    def _full(self, cursor: str | None, resume: dict | None) -> None:
        high = resume["high"] if resume else self.api.newest_modification(self.endpoint.path,
                                                                          self.endpoint.last_modified_property)
        if resume:
            self.metrics.progress("resuming the full load at the %s list", resume["list"])
        else:
            self.metrics.progress("full load (active and archived lists), high-water mark %s", high)

        def batches() -> Iterator[Batch]:
            lists = ["active", "archived"]
            first = lists.index(resume["list"]) if resume and resume["list"] in lists else 0
            after = resume.get("after") if resume else None
            for i, name in enumerate(lists[first:], start=first):
                for records, next_after in self.api.list_pages(self.endpoint.path, self.property_names,
                                                               archived=name == "archived", after=after):
                    if next_after:
                        checkpoint = {"mode": "full", "list": name, "after": next_after, "high": high}
                    elif i + 1 < len(lists):
                        checkpoint = {"mode": "full", "list": lists[i + 1], "after": None, "high": high}
                    else:
                        checkpoint = {"mode": "full", "list": "done", "after": None, "high": high}
                    yield records, checkpoint
                after = None

        final = _later(cursor, high)
        self._land_segments(batches(), final)
        self._ensure_tables()
        self._refresh_links_to_gone()

    def _incremental(self, cursor: str, resume: dict | None) -> None:
        if resume and resume.get("mode") == "incremental":
            start, end = resume["start"], resume["end"]
            self.metrics.progress("resuming the window %s .. %s (%s)", iso(start),
                                  iso(end) if end else "-", resume.get("phase"))
        else:
            start = to_ms(cursor) - int(timedelta(minutes=self.hubspot.lookback_minutes).total_seconds() * 1000)
            newest = self.api.newest_modification(self.endpoint.path, self.endpoint.last_modified_property)
            end = to_ms(newest) if newest else None
            resume = None
            self.metrics.progress("changes %s .. %s (search on %s, %d min lookback) and archivals since %s",
                                  iso(start), iso(end) if end else "-", self.endpoint.last_modified_property,
                                  self.hubspot.lookback_minutes, iso(start))

        def batches() -> Iterator[Batch]:
            phase = (resume or {}).get("phase", "search")
            if phase == "search" and end is not None and end >= start:
                after_id = (resume or {}).get("after_id")
                for records in self.api.search_pages(self.endpoint.path, self.endpoint.last_modified_property,
                                                     start, end, self.property_names, after_id):
                    after_id = records[-1]["id"] if records else after_id
                    yield records, {"mode": "incremental", "phase": "search", "start": start, "end": end,
                                    "after_id": after_id}
            after = (resume or {}).get("after") if phase == "archived" else None
            yield from self._archived_since(start, end, after)

        final = _later(cursor, iso(end) if end is not None else None)
        self._land_segments(batches(), final)
        self._refresh_links_to_gone()

    def _archived_since(self, start: int, end: int | None, after: str | None) -> Iterator[Batch]:
        """Records archived at or after `start`: archiving does not change the last-modified date,
        so search never sees it; the archived list (id order, every page) does."""
        for records, next_after in self.api.list_pages(self.endpoint.path, [settings.ID_PROPERTY],
                                                       archived=True, after=after):
            recent = [r["id"] for r in records
                      if r.get("archivedAt") and to_ms(r["archivedAt"]) >= start]
            full = self.api.batch_read(self.endpoint.path, recent, self.property_names, archived=True) if recent else []
            checkpoint = {"mode": "incremental", "phase": "archived" if next_after else "done", "start": start,
                          "end": end, "after": next_after}
            yield full, checkpoint

    # --- landing ------------------------------------------------------------------------------
    def _land_segments(self, batches: Iterator[Batch], final_cursor: str | None) -> None:
        from . import hubspot_source

        while True:
            segment = Segment(self, batches)
            if segment.has_records:
                results = land(self.spark, self.config, f"hubspot_{self.name}", hubspot_source(segment),
                               self.specs, self.writer, self.accept_type_change)
                if self.name in results:
                    self.metrics.absorb(results[self.name])
                self.metrics.chunks += 1
                for table, merged in results.items():
                    if table != self.name:
                        self.metrics.progress("%s: %d association rows in, %d inserted, %d updated", table,
                                              merged.rows_in, merged.inserted, merged.updated)
            if segment.exhausted:
                self.state.put(settings.SOURCE, self.name, final_cursor, self.writer.load_id, mode=self.metrics.mode)
                self.metrics.cursor_after = final_cursor
                self._progress(force=True, note="done")
                return
            # the committed cursor stays the previous one until the run completes
            self.state.put(settings.SOURCE, self.name, self.metrics.cursor_before, self.writer.load_id,
                           mode=self.metrics.mode, resume=segment.checkpoint)
            self._progress(force=True, note="checkpoint committed")

    def _ensure_tables(self) -> None:
        """After a full load every table exists, even one HubSpot had no rows for."""
        tables = {self.name: self.columns, **{t: association_columns() for _, t in self.associations}}
        for table, columns in tables.items():
            if not self.spark.catalog.tableExists(self.config.bronze_table(settings.SOURCE, table)):
                empty = self.spark.createDataFrame([], spark_schema(columns))
                self.writer.merge(self.specs[table], empty)

    def _progress(self, force: bool = False, note: str = "") -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < settings.PROGRESS_SECONDS:
            return
        self._last_progress = now
        requests, throttled, waited = self.api.stats.snapshot()
        base = self._stats_base
        self.metrics.requests = requests - base[0]
        self.metrics.responses_429 = throttled - base[1]
        self.metrics.wait_seconds = round(waited - base[2], 3)
        self.metrics.progress("%s records, %d requests, %d x 429, %.1f s waited%s", f"{self.metrics.rows_extracted:,}",
                              self.metrics.requests, self.metrics.responses_429, self.metrics.wait_seconds,
                              f" ({note})" if note else "")

    # --- associations -------------------------------------------------------------------------
    def _refresh_links_to_gone(self) -> None:
        """Re-read the associations of other objects' records that point to records archived or
        merged away in this run: HubSpot drops those links without touching the other record, so
        its own incremental run would never notice."""
        if not self.gone_ids:
            return
        from pyspark.sql import functions as F

        from . import links_source

        for other in self.hubspot.endpoints:
            for to_type in other.associations:
                if to_type not in (self.type, self.name):
                    continue
                table = association_table(other.name, to_type)
                name = self.config.bronze_table(settings.SOURCE, table)
                if not self.spark.catalog.tableExists(name):
                    continue
                gone = self.spark.createDataFrame([(i,) for i in sorted(self.gone_ids)], "to_id string")
                from_ids = sorted({r["from_id"] for r in (
                    self.spark.table(name).filter(~F.coalesce(F.col("_is_deleted"), F.lit(False)))
                    .join(gone, "to_id", "left_semi").select("from_id").distinct().collect())})
                if not from_ids:
                    continue
                found = self.api.associations(object_type(other), to_type, from_ids)
                rows = [row for i in from_ids for row in association_rows(i, found.get(i, []))]
                fresh = {(r["from_id"], r["to_id"], r["association_type_id"]) for r in rows}
                rows += self.stale_associations(table, set(from_ids), fresh)
                spec = TableSpec(settings.SOURCE, table, settings.ASSOCIATION_KEYS)
                land(self.spark, self.config, f"hubspot_{table}", links_source(table, rows), {table: spec},
                     self.writer, self.accept_type_change)
                self.metrics.progress("%s: re-read %d records linked to %d archived/merged %s", table,
                                      len(from_ids), len(self.gone_ids), self.name)

    def association_items(self, ids: list[str]) -> Iterator[tuple[str, list[dict]]]:
        for to_type, table in self.associations:
            found = self.api.associations(self.type, to_type, ids)
            rows = [row for from_id in ids for row in association_rows(from_id, found.get(from_id, []))]
            yield table, rows

    def stale_associations(self, table: str, from_ids: set[str], fresh: set[tuple]) -> list[dict]:
        """Association rows in bronze for these records that HubSpot no longer returns: tombstones."""
        name = self.config.bronze_table(settings.SOURCE, table)
        if not from_ids or not self.spark.catalog.tableExists(name):
            return []
        from pyspark.sql import functions as F

        ids = self.spark.createDataFrame([(i,) for i in sorted(from_ids)], "from_id string")
        current = (self.spark.table(name).filter(~F.coalesce(F.col("_is_deleted"), F.lit(False)))
                   .join(ids, "from_id", "left_semi")
                   .select(*settings.ASSOCIATION_COLUMNS.keys()).collect())
        stale = []
        for row in current:
            if (row["from_id"], row["to_id"], row["association_type_id"]) not in fresh:
                stale.append({**row.asDict(), "_is_deleted": True})
        return stale


class Segment:
    """The records of one checkpoint, as dlt items: the object's rows, then its associations.

    Pulls batches from the run's shared iterator until CHECKPOINT_RECORDS records; `checkpoint`
    is where the segment ended and `exhausted` tells whether the run has no more.
    """

    def __init__(self, sync: ObjectSync, batches: Iterator[Batch]):
        self.sync, self.batches = sync, batches
        self.checkpoint: dict | None = None
        self.exhausted = False
        self.records = 0
        self._first: list[dict] | None = None
        # look ahead to the first non-empty batch: an empty segment needs no dlt run
        for records, checkpoint in batches:
            self.checkpoint = checkpoint
            if records:
                self._first = records
                break
        else:
            self.exhausted = True

    @property
    def has_records(self) -> bool:
        return self._first is not None

    def _batches(self) -> Iterator[list[dict]]:
        if self._first is None:
            return
        yield self._first
        if self._count(self._first):
            return
        for records, checkpoint in self.batches:
            self.checkpoint = checkpoint
            yield records
            if self._count(records):
                return
        self.exhausted = True

    def _count(self, records: list[dict]) -> bool:
        self.records += len(records)
        return self.records >= settings.CHECKPOINT_RECORDS

    def items(self) -> Iterator[Any]:
        import dlt

        sync = self.sync
        hints = dlt.mark.make_hints(table_name=sync.name, columns=sync.columns)
        ids: list[str] = []
        pending: list[str] = []
        merged_away: set[str] = set()
        fresh: dict[str, set[tuple]] = {table: set() for _, table in sync.associations}
        assoc_hints = {table: dlt.mark.make_hints(table_name=table, columns=association_columns())
                       for _, table in sync.associations}
        for records in self._batches():
            rows = [record_row(r, sync.property_types) for r in records]
            for row in rows:
                merged = row.get(settings.MERGED_IDS_PROPERTY)
                if merged:
                    merged_away.update(i.strip() for i in str(merged).split(";") if i.strip())
            sync.metrics.rows_extracted += len(rows)
            sync.gone_ids.update(row["id"] for row in rows if row["_is_deleted"] and row["id"])
            if rows:
                yield dlt.mark.with_hints(rows, hints, create_table_variant=True)
            new_ids = [row["id"] for row in rows if row["id"] is not None]
            ids += new_ids
            pending += new_ids
            if sync.associations and len(pending) >= settings.ASSOCIATION_BATCH_MAX:
                yield from self._association_items(pending, fresh, assoc_hints)
                pending = []
            sync._progress()
        if sync.associations and pending:
            yield from self._association_items(pending, fresh, assoc_hints)
        sync.gone_ids.update(merged_away)
        for _, table in sync.associations:
            stale = sync.stale_associations(table, set(ids) | merged_away, fresh[table])
            if stale:
                yield dlt.mark.with_hints(stale, assoc_hints[table], create_table_variant=True)

    def _association_items(self, ids: list[str], fresh: dict[str, set], assoc_hints: dict) -> Iterator[Any]:
        import dlt

        for table, rows in self.sync.association_items(ids):
            fresh[table].update((r["from_id"], r["to_id"], r["association_type_id"]) for r in rows)
            if rows:
                yield dlt.mark.with_hints(rows, assoc_hints[table], create_table_variant=True)


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if to_ms(a) >= to_ms(b) else b
