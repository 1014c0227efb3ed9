"""In-memory records and associations: listing with cursors, search, batch reads, ground truth.

Every method expects the caller (the server) to hold the store's lock.
"""
from __future__ import annotations

import base64
import bisect
import functools
import re
import time
from dataclasses import dataclass, field

from .schema import ALIASES, ObjectType, build_object_types, iso, parse_time

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# (from, to) -> (primary typeId or None, unlabeled typeId, v3 type name). HubSpot's own ids.
ASSOCIATION_TYPES = {
    ("contacts", "companies"): (1, 279, "contact_to_company"),
    ("companies", "contacts"): (2, 280, "company_to_contact"),
    ("deals", "contacts"): (None, 3, "deal_to_contact"),
    ("contacts", "deals"): (None, 4, "contact_to_deal"),
    ("deals", "companies"): (5, 341, "deal_to_company"),
    ("companies", "deals"): (6, 342, "company_to_deal"),
    ("tickets", "contacts"): (None, 16, "ticket_to_contact"),
    ("contacts", "tickets"): (None, 15, "contact_to_ticket"),
    ("tickets", "companies"): (26, 339, "ticket_to_company"),
    ("companies", "tickets"): (25, 340, "company_to_ticket"),
    # a custom object's associations are USER_DEFINED with portal-specific type ids
    ("p_subscriptions", "contacts"): (None, 77, "p_subscriptions_to_contact"),
    ("contacts", "p_subscriptions"): (None, 78, "contact_to_p_subscriptions"),
}
USER_DEFINED_TYPE_IDS = {77, 78}
EMBEDDED_ASSOCIATION_CAP = 100   # v3 list/read embeds at most this many per association type
V4_BATCH_ASSOCIATION_CAP = 500   # v4 batch read: per-record page size


class ApiError(Exception):
    """An error answer: HTTP status, message, HubSpot category, extra body fields."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra):
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra


@dataclass
class Record:
    id: int
    props: dict                    # property -> string ('' allowed); missing means null
    created: int                   # epoch ms
    updated: int
    archived: bool = False
    archived_at: int | None = None
    merged_into: int | None = None
    wall: float = 0.0              # wall-clock time of the last change (search indexing lag)

    @property
    def visible(self) -> bool:
        return not self.archived and self.merged_into is None


def encode_cursor(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{record_id}".encode()).decode().rstrip("=")


def decode_cursor(after: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "c1":
            raise ValueError(raw)
        return int(value)
    except Exception:
        raise ApiError(400, f"Invalid 'after' cursor: {after!r}") from None


@dataclass
class Store:
    types: dict[str, ObjectType] = field(default_factory=build_object_types)
    records: dict[str, dict[int, Record]] = field(default_factory=dict)
    order: dict[str, list[int]] = field(default_factory=dict)        # ids ascending
    next_id: dict[str, int] = field(default_factory=dict)
    # links[(a, b)][a_id][b_id] = primary flag; both directions are kept
    links: dict[tuple[str, str], dict[int, dict[int, bool]]] = field(default_factory=dict)
    now: int = 0
    meta: dict = field(default_factory=dict)

    # --- basics -------------------------------------------------------------------------------
    def object_type(self, name: str) -> ObjectType:
        name = ALIASES.get(name.lower(), name.lower()) if name else name
        if name not in self.types:
            raise ApiError(404, f"Unable to infer object type from: {name}", "OBJECT_NOT_FOUND")
        return self.types[name]

    def add_record(self, obj: str, props: dict, created: int, updated: int | None = None,
                   record_id: int | None = None) -> Record:
        if record_id is None:
            record_id = self.next_id[obj]
        self.next_id[obj] = max(self.next_id.get(obj, 0), record_id + 1)
        props = {k: v for k, v in props.items() if v is not None}
        props["hs_object_id"] = str(record_id)
        props[self.types[obj].created_prop] = iso(created)
        record = Record(record_id, props, created, created)
        self.touch(obj, record, updated if updated is not None else created, wall=0.0)
        self.records.setdefault(obj, {})[record_id] = record
        ids = self.order.setdefault(obj, [])
        if ids and ids[-1] > record_id:
            bisect.insort(ids, record_id)
        else:
            ids.append(record_id)
        return record

    def touch(self, obj: str, record: Record, ms: int, wall: float | None = None) -> None:
        """Set the record's modification time (updatedAt and the last-modified properties)."""
        record.updated = max(record.updated, ms)
        stamp = iso(record.updated)
        for name in self.types[obj].modified_props:
            record.props[name] = stamp
        record.wall = time.time() if wall is None else wall

    def associate(self, a: str, a_id: int, b: str, b_id: int, primary: bool = False) -> None:
        self.links.setdefault((a, b), {}).setdefault(a_id, {})[b_id] = primary
        self.links.setdefault((b, a), {}).setdefault(b_id, {})[a_id] = primary

    def associated(self, a: str, a_id: int, b: str) -> list[tuple[int, bool]]:
        """Visible records of type b associated with a's record, ids ascending."""
        targets = self.links.get((a, b), {}).get(a_id, {})
        recs = self.records.get(b, {})
        return [(tid, primary) for tid, primary in sorted(targets.items())
                if tid in recs and recs[tid].visible]

    def resolve(self, obj: str, record_id: int) -> Record | None:
        record = self.records.get(obj, {}).get(record_id)
        seen = 0
        while record is not None and record.merged_into is not None and seen < 50:
            record, seen = self.records[obj].get(record.merged_into), seen + 1
        return record

    # --- rendering ----------------------------------------------------------------------------
    def wanted_properties(self, obj: str, requested: list[str] | None) -> list[str]:
        otype = self.types[obj]
        names = list(otype.default_properties) if not requested else [
            p for p in requested if p in otype.properties]
        # HubSpot always returns these, requested or not
        for always in ("hs_object_id", otype.created_prop, otype.modified_props[-1]):
            if always not in names:
                names.append(always)
        return sorted(set(names))

    def render(self, obj: str, record: Record, props: list[str]) -> dict:
        out = {
            "id": str(record.id),
            "properties": {p: record.props.get(p) for p in props},
            "createdAt": iso(record.created),
            "updatedAt": iso(record.updated),
            "archived": record.archived,
        }
        if record.archived:
            out["archivedAt"] = iso(record.archived_at)
        return out

    def association_entries(self, obj: str, record_id: int, to: str) -> list[dict]:
        primary_type, unlabeled_type, name = ASSOCIATION_TYPES[(obj, to)]
        entries = []
        for tid, primary in self.associated(obj, record_id, to):
            if primary and primary_type is not None:
                entries.append({"id": str(tid), "type": name})
                entries.append({"id": str(tid), "type": f"{name}_unlabeled"})
            else:
                entries.append({"id": str(tid),
                                "type": name if primary_type is None else f"{name}_unlabeled"})
        return entries

    def embed_associations(self, obj: str, record: Record, to_types: list[str], base: str) -> dict:
        out = {}
        for to in to_types:
            if (obj, to) not in ASSOCIATION_TYPES:
                continue
            entries = self.association_entries(obj, record.id, to)
            if not entries:
                continue
            block = {"results": entries[:EMBEDDED_ASSOCIATION_CAP]}
            if len(entries) > EMBEDDED_ASSOCIATION_CAP:
                after = encode_cursor(EMBEDDED_ASSOCIATION_CAP)
                block["paging"] = {"next": {
                    "after": after,
                    "link": f"{base}/crm/v3/objects/{obj}/{record.id}/associations/{to}?after={after}"}}
            out[to] = block
        return out

    def v4_types(self, obj: str, to: str, primary: bool) -> list[dict]:
        primary_type, unlabeled_type, _ = ASSOCIATION_TYPES[(obj, to)]
        types = []
        if primary and primary_type is not None:
            types.append({"category": "HUBSPOT_DEFINED", "typeId": primary_type, "label": "Primary"})
        category = "USER_DEFINED" if unlabeled_type in USER_DEFINED_TYPE_IDS else "HUBSPOT_DEFINED"
        types.append({"category": category, "typeId": unlabeled_type, "label": None})
        return types

    # --- reads --------------------------------------------------------------------------------
    def list_page(self, obj: str, limit: int, after: str | None, archived: bool):
        """One page of records in id order: (records, next cursor or None)."""
        ids = self.order.get(obj, [])
        start = bisect.bisect_left(ids, decode_cursor(after)) if after else 0
        recs = self.records[obj]
        page = []
        for i in range(start, len(ids)):
            record = recs[ids[i]]
            if record.merged_into is not None or record.archived != archived:
                continue
            if len(page) == limit:
                return page, encode_cursor(record.id)
            page.append(record)
        return page, None

    def search(self, obj: str, body: dict, lag_seconds: float, wall_now: float):
        """Filter, sort and page visible records: (total, page records, next offset or None)."""
        otype = self.types[obj]
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or len(groups) > 5:
            raise ApiError(400, "At most 5 filterGroups are allowed")
        if sum(len(g.get("filters") or []) for g in groups) > 18:
            raise ApiError(400, "At most 18 filters are allowed in total")
        checks = []
        for group in groups:
            filters = group.get("filters") or []
            if len(filters) > 6:
                raise ApiError(400, "At most 6 filters are allowed per filterGroup")
            checks.append([self._make_filter(otype, f) for f in filters])
        query = str(body.get("query") or "").strip().lower()
        sort_prop, descending = self._sort_spec(otype, body.get("sorts") or [])
        limit = _int(body.get("limit", 10), "limit")
        if not 1 <= limit <= 200:
            raise ApiError(400, "limit must be between 1 and 200")
        offset = _int(body.get("after") or 0, "after")
        if offset < 0:
            raise ApiError(400, "after must not be negative")
        if offset + limit > 10_000:
            raise ApiError(400, "There was a problem with the request: search results are capped "
                                "at 10,000; page with a filter on hs_object_id instead",
                           subCategory="crm.search.MAX_RESULTS_EXCEEDED")
        matched = []
        for record in self.records[obj].values():
            if not record.visible or (lag_seconds > 0 and wall_now - record.wall < lag_seconds):
                continue
            if checks and not any(all(c(record) for c in group) for group in checks):
                continue
            if query and not any(query in (record.props.get(p) or "").lower()
                                 for p in otype.search_text_props):
                continue
            matched.append(record)
        matched.sort(key=lambda r: r.id)
        if sort_prop:
            kind = otype.properties[sort_prop].type
            present = [r for r in matched if _sort_value(kind, r.props.get(sort_prop)) is not None]
            missing = [r for r in matched if _sort_value(kind, r.props.get(sort_prop)) is None]
            present.sort(key=lambda r: _sort_value(kind, r.props.get(sort_prop)), reverse=descending)
            matched = present + missing
        page = matched[offset:offset + limit]
        next_offset = offset + limit if offset + limit < len(matched) else None
        return len(matched), page, next_offset

    def _sort_spec(self, otype: ObjectType, sorts) -> tuple[str | None, bool]:
        if not sorts:
            return None, False
        if len(sorts) > 1:
            raise ApiError(400, "Only one sort is supported")
        spec = sorts[0]
        if isinstance(spec, str):
            name, descending = spec.lstrip("-"), spec.startswith("-")
        else:
            name = spec.get("propertyName")
            descending = str(spec.get("direction", "ASCENDING")).upper() == "DESCENDING"
        if name not in otype.properties:
            raise ApiError(400, f"Cannot sort on unknown property {name!r}")
        return name, descending

    def _make_filter(self, otype: ObjectType, spec: dict):
        name, op = spec.get("propertyName"), str(spec.get("operator", "EQ")).upper()
        if name not in otype.properties:
            raise ApiError(400, f"There was a problem with the request: property {name!r} "
                                f"does not exist on {otype.name}")
        kind = otype.properties[name].type

        def conv(value):
            try:
                return _filter_value(kind, value)
            except (TypeError, ValueError):
                raise ApiError(400, f"Invalid filter value {value!r} for {name} ({kind})") from None

        def get(record):
            raw = record.props.get(name)
            if raw is None or raw == "":
                return None
            try:
                return _parse_cached(kind, raw)
            except (TypeError, ValueError):
                return None

        if op == "HAS_PROPERTY":
            return lambda r: get(r) is not None
        if op == "NOT_HAS_PROPERTY":
            return lambda r: get(r) is None
        if op in ("IN", "NOT_IN"):
            values = {conv(v) for v in spec.get("values") or []}
            if op == "IN":
                return lambda r: get(r) in values
            return lambda r: get(r) not in values
        if op == "BETWEEN":
            low, high = conv(spec.get("value")), conv(spec.get("highValue"))
            return lambda r: (v := get(r)) is not None and low <= v <= high
        if op == "CONTAINS_TOKEN":
            token = str(spec.get("value", "")).lower().strip("*")
            return lambda r: token in (r.props.get(name) or "").lower()
        if op == "NOT_CONTAINS_TOKEN":
            token = str(spec.get("value", "")).lower().strip("*")
            return lambda r: token not in (r.props.get(name) or "").lower()
        value = conv(spec.get("value"))
        ops = {
            "EQ": lambda v: v == value, "NEQ": lambda v: v != value,
            "GT": lambda v: v > value, "GTE": lambda v: v >= value,
            "LT": lambda v: v < value, "LTE": lambda v: v <= value,
        }
        if op not in ops:
            raise ApiError(400, f"Unknown filter operator {op}")
        test = ops[op]
        if op == "NEQ":
            return lambda r: (v := get(r)) is None or test(v)
        return lambda r: (v := get(r)) is not None and test(v)

    # --- ground truth -------------------------------------------------------------------------
    def state(self, obj: str, props: list[str] | None = None, nulls: bool = False) -> dict:
        """Every record of obj in id order, merged-away ones too. Properties without a value are
        left out unless `nulls` (or named in `props`): absent means null."""
        otype = self.types[obj]
        names = sorted(props) if props else sorted(otype.properties)
        keep_nulls = nulls or bool(props)
        rows = []
        for record_id in self.order.get(obj, []):
            record = self.records[obj][record_id]
            row = {"id": str(record.id),
                   "properties": ({p: record.props.get(p) for p in names} if keep_nulls
                                  else dict(sorted(record.props.items()))),
                   "createdAt": iso(record.created), "updatedAt": iso(record.updated),
                   "archived": record.archived,
                   "archivedAt": iso(record.archived_at) if record.archived else None,
                   "mergedInto": str(record.merged_into) if record.merged_into else None,
                   "associations": {to: [str(t) for t, _ in self.associated(obj, record.id, to)]
                                    for (a, to) in ASSOCIATION_TYPES if a == obj}}
            rows.append(row)
        return {"object": obj, "now": iso(self.now), "property_names": sorted(otype.properties),
                "results": rows,
                "active": sum(1 for r in rows if not r["archived"] and not r["mergedInto"]),
                "archived": sum(1 for r in rows if r["archived"] and not r["mergedInto"]),
                "merged": sum(1 for r in rows if r["mergedInto"])}

    def manifest(self) -> dict:
        out = {"meta": dict(self.meta, now=iso(self.now), email_regex=EMAIL_RE.pattern)}
        for obj, otype in self.types.items():
            recs = list(self.records.get(obj, {}).values())
            active = [r for r in recs if r.visible]
            entry = {
                "total_ids": len(recs),
                "active": len(active),
                "archived": sum(1 for r in recs if r.archived and r.merged_into is None),
                "merged": sum(1 for r in recs if r.merged_into is not None),
            }
            empty_by_prop: dict[str, int] = {}
            non_canonical = 0
            for r in active:
                for name, value in r.props.items():
                    if value == "":
                        empty_by_prop[name] = empty_by_prop.get(name, 0) + 1
                    elif (otype.properties.get(name) and otype.properties[name].type == "number"
                          and (value.endswith(".0") or "E" in value.upper())):
                        non_canonical += 1
            entry["empty_strings"] = sum(empty_by_prop.values())
            entry["empty_strings_by_property"] = dict(sorted(empty_by_prop.items()))
            entry["non_canonical_numbers"] = non_canonical
            if obj == "contacts":
                entry.update(_contact_quality(active))
            if obj == "deals":
                missing = [r for r in active if not r.props.get("amount")]
                entry["deals_without_amount"] = len(missing)
                entry["deals_without_amount_closedwon"] = sum(
                    1 for r in missing if r.props.get("dealstage") == "closedwon")
            if obj == "tickets":
                entry["closed"] = sum(1 for r in active if r.props.get("hs_pipeline_stage") == "4")
            max_assoc = {}
            for (a, to) in ASSOCIATION_TYPES:
                if a != obj:
                    continue
                best = max(((len(self.associated(obj, r.id, to)), r.id) for r in active),
                           default=(0, None))
                max_assoc[to] = {"id": str(best[1]) if best[1] else None, "count": best[0]}
            entry["max_associations"] = max_assoc
            out[obj] = entry
        return out


def _contact_quality(active: list[Record]) -> dict:
    emails = [r.props.get("email") for r in active]
    valid = [e for e in emails if e and EMAIL_RE.match(e)]
    seen: set[str] = set()
    duplicates = 0
    for email in valid:
        key = email.strip().lower()
        duplicates += key in seen
        seen.add(key)
    return {
        "invalid_emails": sum(1 for e in emails if e is not None and not EMAIL_RE.match(e)),
        "empty_emails": sum(1 for e in emails if e == ""),
        "null_emails": sum(1 for e in emails if e is None),
        "duplicate_emails": duplicates,
        "unicode_names": sum(1 for r in active if not (
            (r.props.get("firstname") or "") + (r.props.get("lastname") or "")).isascii()),
        "with_utm_campaign": sum(1 for r in active if r.props.get("utm_campaign")),
        "with_merged_ids": sum(1 for r in active if r.props.get("hs_merged_object_ids")),
    }


def _int(value, name: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {value!r}") from None


@functools.lru_cache(maxsize=1_000_000)
def _parse_cached(kind: str, value: str):
    return _filter_value(kind, value)


def _filter_value(kind: str, value):
    if kind in ("datetime", "date"):
        return parse_time(value)
    if kind == "number":
        return float(value)
    if kind == "bool":
        return str(value).lower() == "true"
    return str(value).lower()


def _sort_value(kind: str, value):
    if value is None or value == "":
        return None
    try:
        return _parse_cached(kind, value)
    except (TypeError, ValueError):
        return None


def merge_contacts(store: Store, survivor: Record, merged: Record, ms: int,
                   wall: float | None = None) -> None:
    """Merge contact `merged` into `survivor`: it leaves lists and search; associations move."""
    merged.merged_into = survivor.id
    ids = [i for i in (survivor.props.get("hs_merged_object_ids") or "").split(";") if i]
    ids += [str(merged.id)] + [i for i in (merged.props.get("hs_merged_object_ids") or "").split(";") if i]
    survivor.props["hs_merged_object_ids"] = ";".join(ids)
    for (a, b) in ASSOCIATION_TYPES:
        if a != "contacts":
            continue
        for target, _ in list(store.links.get((a, b), {}).get(merged.id, {}).items()):
            store.links[(b, a)][target].pop(merged.id, None)
            if target not in store.links.get((a, b), {}).get(survivor.id, {}):
                store.associate(a, survivor.id, b, target, primary=False)
        store.links.get((a, b), {}).pop(merged.id, None)
    store.touch("contacts", survivor, ms, wall=wall)
