"""One object's run: what to extract (full or incremental), as checkpointed segments.

Cursor (`ops.ingest_state`, saved by the runner only after the segment's bronze MERGE committed):
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

from extract_load.sources.base import BronzeTable, Checkpoint, ExtractStats, Landed, Segment

from . import settings
from .config import HubSpotEndpointConfig
from .helpers import HubSpotAPI, object_type
from .mapping import association_columns, association_rows, parse_datetime, record_columns, record_row

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
    """One configured HubSpot object's run (and its associations'), as segments for the runner."""

    def __init__(self, api: HubSpotAPI, endpoint: HubSpotEndpointConfig, stats: ExtractStats, landed: Landed,
                 full_refresh: bool = False):
        self.api, self.endpoint, self.stats, self.landed = api, endpoint, stats, landed
        self.full_refresh = full_refresh
        self.name = endpoint.name
        self.type = object_type(endpoint)
        self.hubspot = api.config
        self.associations = [(to, association_table(self.name, to)) for to in endpoint.associations]
        self.tables: dict[str, BronzeTable] = {}
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
    def segments(self, stored: dict | None) -> Iterator[Segment]:
        """The object's segments (full or incremental), then the re-read links to records gone."""
        try:
            self.property_types = self.resolve_properties()
            self.property_names = list(self.property_types)
            self.columns = record_columns(self.property_types)
            self.tables = {self.name: BronzeTable(self.name, ("id",), version_column="updated_at", columns=self.columns)}
            for _, table in self.associations:
                self.tables[table] = BronzeTable(table, settings.ASSOCIATION_KEYS, columns=association_columns())
            stored = stored or {}
            cursor = stored.get("cursor")
            resume = None if self.full_refresh else stored.get("resume")
            self.stats.cursor_before = cursor
            if self.full_refresh or not cursor or (resume and resume.get("mode") == "full"):
                self.stats.mode = "full"
                yield from self._full(cursor, resume if resume and resume.get("mode") == "full" else None)
            else:
                self.stats.mode = "incremental"
                yield from self._incremental(cursor, resume)
            yield from self._links_to_gone()
        finally:  # the request counters as the run ends, however it ends
            self._progress(force=True)

    def _full(self, cursor: str | None, resume: dict | None) -> Iterator[Segment]:
        high = resume["high"] if resume else self.api.newest_modification(self.endpoint.path,
                                                                          self.endpoint.last_modified_property)
        if resume:
            self.stats.progress("resuming the full load at the %s list", resume["list"])
        else:
            self.stats.progress("full load (active and archived lists), high-water mark %s", high)

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

        yield from self._segments(batches(), _later(cursor, high))

    def _incremental(self, cursor: str, resume: dict | None) -> Iterator[Segment]:
        if resume and resume.get("mode") == "incremental":
            start, end = resume["start"], resume["end"]
            self.stats.progress("resuming the window %s .. %s (%s)", iso(start),
                                  iso(end) if end else "-", resume.get("phase"))
        else:
            start = to_ms(cursor) - int(timedelta(minutes=self.hubspot.lookback_minutes).total_seconds() * 1000)
            newest = self.api.newest_modification(self.endpoint.path, self.endpoint.last_modified_property)
            end = to_ms(newest) if newest else None
            resume = None
            self.stats.progress("changes %s .. %s (search on %s, %d min lookback) and archivals since %s",
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

        yield from self._segments(batches(), _later(cursor, iso(end) if end is not None else None))

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

    # --- segments -----------------------------------------------------------------------------
    def _segments(self, batches: Iterator[Batch], final_cursor: str | None) -> Iterator[Segment]:
        """Checkpointed windows of records: until the last one, the saved cursor stays the one the
        run started from, with where the window ended as the resume position."""
        from . import hubspot_source

        while True:
            window = Window(self, batches)
            if window.has_records:
                self.stats.chunks += 1

            def checkpoint(window: Window = window) -> Checkpoint:
                if window.exhausted:
                    return Checkpoint(final_cursor, {"mode": self.stats.mode})
                return Checkpoint(self.stats.cursor_before, {"mode": self.stats.mode, "resume": window.checkpoint})

            yield Segment(hubspot_source(window) if window.has_records else None, self.tables, checkpoint)
            if window.exhausted:
                self._progress(force=True, note="done")
                return
            self._progress(force=True, note="checkpoint committed")

    def _progress(self, force: bool = False, note: str = "") -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < settings.PROGRESS_SECONDS:
            return
        self._last_progress = now
        requests, throttled, waited = self.api.stats.snapshot()
        base = self._stats_base
        self.stats.requests = requests - base[0]
        self.stats.responses_429 = throttled - base[1]
        self.stats.wait_seconds = round(waited - base[2], 3)
        self.stats.progress("%s records, %d requests, %d x 429, %.1f s waited%s", f"{self.stats.rows_extracted:,}",
                            self.stats.requests, self.stats.responses_429, self.stats.wait_seconds,
                            f" ({note})" if note else "")

    # --- associations -------------------------------------------------------------------------
    def _links_to_gone(self) -> Iterator[Segment]:
        """Re-read the associations of other objects' records that point to records archived or
        merged away in this run: HubSpot drops those links without touching the other record, so
        its own incremental run would never notice."""
        if not self.gone_ids:
            return
        from . import links_source

        for other in self.hubspot.tables:
            for to_type in other.associations:
                if to_type not in (self.type, self.name):
                    continue
                table = association_table(other.name, to_type)
                linked = self.landed.live_rows(table, "to_id", self.gone_ids, ["from_id"])
                from_ids = sorted({row["from_id"] for row in linked})
                if not from_ids:
                    continue
                found = self.api.associations(object_type(other), to_type, from_ids)
                rows = [row for i in from_ids for row in association_rows(i, found.get(i, []))]
                fresh = {(r["from_id"], r["to_id"], r["association_type_id"]) for r in rows}
                rows += self.stale_associations(table, set(from_ids), fresh)
                spec = BronzeTable(table, settings.ASSOCIATION_KEYS, columns=association_columns())
                yield Segment(links_source(table, rows), {table: spec})
                self.stats.progress("%s: re-read %d records linked to %d archived/merged %s", table,
                                    len(from_ids), len(self.gone_ids), self.name)

    def association_items(self, ids: list[str]) -> Iterator[tuple[str, list[dict]]]:
        for to_type, table in self.associations:
            found = self.api.associations(self.type, to_type, ids)
            rows = [row for from_id in ids for row in association_rows(from_id, found.get(from_id, []))]
            yield table, rows

    def stale_associations(self, table: str, from_ids: set[str], fresh: set[tuple]) -> list[dict]:
        """Association rows in bronze for these records that HubSpot no longer returns: tombstones."""
        if not from_ids:
            return []
        current = self.landed.live_rows(table, "from_id", from_ids, list(settings.ASSOCIATION_COLUMNS))
        return [{**row, "_is_deleted": True} for row in current
                if (row["from_id"], row["to_id"], row["association_type_id"]) not in fresh]


class Window:
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
            sync.stats.rows_extracted += len(rows)
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
