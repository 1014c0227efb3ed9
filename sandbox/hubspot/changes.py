"""Changes over simulated time: updates, creates, archivals, merges, bulk updates, new properties.

Timestamps come from the sandbox's simulated clock (`store.now`), never the wall clock; the wall
clock is only recorded for the search indexing lag.
"""
from __future__ import annotations

import random
import time

from .schema import DEAL_STAGES, LIFECYCLE_STAGES, PropDef, iso
from .seed import (JOB_TITLES, PLACES, company_props, contact_props, deal_props, deal_stage_props,
                   fmt_number, new_id, subscription_props, ticket_close_props, ticket_props)
from .store import ApiError, Record, Store, merge_contacts

STANDARD = ("contacts", "companies", "deals", "tickets", "p_subscriptions")


def _counts(value, objects) -> dict[str, int]:
    if isinstance(value, dict):
        unknown = set(value) - set(STANDARD)
        if unknown:
            raise ApiError(400, f"unknown objects {sorted(unknown)}")
        return {k: int(v) for k, v in value.items()}
    return {obj: int(value or 0) for obj in objects}


def _update(store: Store, obj: str, record: Record, rng: random.Random, ms: int) -> None:
    props = record.props
    if obj == "contacts":
        field = rng.choice(("lifecyclestage", "phone", "jobtitle", "city"))
        if field == "lifecyclestage":
            current = props.get("lifecyclestage")
            idx = LIFECYCLE_STAGES.index(current) if current in LIFECYCLE_STAGES else 0
            props["lifecyclestage"] = LIFECYCLE_STAGES[min(idx + 1, 6)]
        elif field == "phone":
            props["phone"] = f"+1 617-555-{rng.randint(0, 9999):04d}"
        elif field == "jobtitle":
            props["jobtitle"] = rng.choice(JOB_TITLES)
        else:
            props["city"] = rng.choice(PLACES)[0]
    elif obj == "deals":
        stage = props.get("dealstage")
        if stage in DEAL_STAGES[:5]:
            nxt = DEAL_STAGES[DEAL_STAGES.index(stage) + 1] if rng.random() < 0.8 else "closedlost"
            props.update(deal_stage_props(nxt))
            if nxt in ("closedwon", "closedlost"):
                props["closedate"] = iso(ms)
        else:
            props["amount"] = fmt_number(rng, rng.randint(5, 400) * 250)
    elif obj == "companies":
        props["numberofemployees"] = str(rng.randint(5, 5000))
    elif obj == "tickets":
        stage = props.get("hs_pipeline_stage")
        if stage in ("1", "2", "3"):
            if rng.random() < 0.6:
                props.update(ticket_close_props(rng, record.created, max(ms, record.created)))
            else:
                props["hs_pipeline_stage"] = rng.choice([s for s in ("1", "2", "3") if s != stage])
        else:
            props["hs_ticket_priority"] = rng.choice(("LOW", "MEDIUM", "HIGH", "URGENT"))
    elif obj == "p_subscriptions":
        if props.get("status") != "cancelled" and rng.random() < 0.3:
            props.update(status="cancelled", cancelled_at=iso(ms))
        else:
            props["mrr"] = str(rng.randint(1, 40) * 49)
    store.touch(obj, record, ms)


def _create(store: Store, obj: str, rng: random.Random, ms: int) -> Record:
    companies = [r for r in store.records["companies"].values() if r.visible]
    contacts = [r for r in store.records["contacts"].values() if r.visible]
    company = rng.choice(companies) if companies and rng.random() < 0.9 else None
    if obj == "companies":
        props = company_props(rng)
    elif obj == "contacts":
        props = contact_props(rng, company.props if company else None, company.id if company else None)
    elif obj == "deals":
        props = deal_props(rng, company.props.get("name") if company else None, ms, ms)
    elif obj == "p_subscriptions":
        props = subscription_props(rng, ms, ms)
        props.update(status="active", cancelled_at=None)
    else:
        props = ticket_props(rng, ms, ms)
        if props.get("closed_date"):   # a brand-new ticket is open
            for key in ("closed_date", "time_to_close", "hs_resolution"):
                props.pop(key, None)
            props["hs_pipeline_stage"] = "1"
    record = store.add_record(obj, props, ms, ms, new_id(store, obj, rng))
    store.touch(obj, record, ms)
    if obj == "contacts" and company:
        store.associate("contacts", record.id, "companies", company.id, primary=True)
    elif obj == "deals":
        if company:
            store.associate("deals", record.id, "companies", company.id, primary=True)
        if contacts:
            store.associate("deals", record.id, "contacts", rng.choice(contacts).id)
    elif obj == "p_subscriptions" and contacts:
        store.associate("p_subscriptions", record.id, "contacts", rng.choice(contacts).id)
    elif obj == "tickets" and contacts:
        contact = rng.choice(contacts)
        store.associate("tickets", record.id, "contacts", contact.id)
        primary = [cid for cid, is_primary in store.associated("contacts", contact.id, "companies")
                   if is_primary]
        if primary:
            store.associate("tickets", record.id, "companies", primary[0], primary=True)
    return record


def advance(store: Store, rng: random.Random, payload: dict) -> dict:
    """Move the simulated clock and apply changes inside the elapsed window; report the ids."""
    seconds = float(payload.get("seconds", 3600))
    if seconds < 0:
        raise ApiError(400, "seconds must not be negative")
    objects = payload.get("object") or payload.get("objects") or STANDARD
    objects = [objects] if isinstance(objects, str) else list(objects)
    for obj in objects:
        store.object_type(obj)
    objects = [store.object_type(o).name for o in objects]
    start, end = store.now, store.now + int(seconds * 1000)
    store.now = end

    def moment() -> int:
        return rng.randint(start + 1, end) if end > start else end

    changes = {obj: {"updated": [], "created": [], "archived": []} for obj in STANDARD}
    touched: dict[str, set[int]] = {obj: set() for obj in STANDARD}

    def pick(obj: str, n: int) -> list[Record]:
        pool = [store.records[obj][i] for i in store.order[obj]
                if store.records[obj][i].visible and i not in touched[obj]]
        chosen = rng.sample(pool, min(n, len(pool)))
        touched[obj].update(r.id for r in chosen)
        return sorted(chosen, key=lambda r: r.id)

    for obj, n in _counts(payload.get("updates"), objects).items():
        for record in pick(obj, n):
            _update(store, obj, record, rng, moment())
            changes[obj]["updated"].append(str(record.id))
    for obj, n in _counts(payload.get("archives"), objects).items():
        for record in pick(obj, n):
            record.archived, record.archived_at = True, max(moment(), record.updated)
            record.wall = time.time()
            changes[obj]["archived"].append(str(record.id))
    merges = payload.get("merges") or 0
    merges = merges.get("contacts", 0) if isinstance(merges, dict) else int(merges)
    merged = []
    for _ in range(merges):
        pair = pick("contacts", 2)
        if len(pair) < 2:
            break
        survivor, gone = pair if rng.random() < 0.5 else pair[::-1]
        merge_contacts(store, survivor, gone, moment())
        merged.append({"merged": str(gone.id), "into": str(survivor.id)})
    changes["contacts"]["merged"] = merged
    for obj, n in _counts(payload.get("creates"), objects).items():
        for _ in range(n):
            record = _create(store, obj, rng, moment())
            touched[obj].add(record.id)
            changes[obj]["created"].append(str(record.id))

    bulk = payload.get("bulk_update")
    if bulk:
        obj = store.object_type(bulk.get("object", "contacts")).name
        ms = end   # the same millisecond on every record, as a month-end workflow leaves it
        prop = bulk.get("property", "hs_custom_field_100")
        value = bulk.get("value", f"bulk-{iso(ms)[:10]}")
        pool = [store.records[obj][i] for i in store.order[obj] if store.records[obj][i].visible]
        chosen = sorted(rng.sample(pool, min(int(bulk.get("count", 0)), len(pool))), key=lambda r: r.id)
        for record in chosen:
            record.props[prop] = value
            store.touch(obj, record, ms)
        changes[obj]["bulk_updated"] = [str(r.id) for r in chosen]
        changes[obj]["bulk_timestamp"] = iso(ms)
    return {"previous_now": iso(start), "now": iso(end),
            "changes": {obj: c for obj, c in changes.items() if any(c.values())}}


def add_property(store: Store, rng: random.Random, payload: dict) -> dict:
    """Define a new property; optionally give `fill` active records a value (bumping them)."""
    otype = store.object_type(payload.get("object", ""))
    name, kind = payload.get("name"), payload.get("type", "string")
    if not name or kind not in ("string", "number", "datetime", "date", "bool", "enumeration"):
        raise ApiError(400, "name and a valid type are required")
    otype.add(PropDef(name, kind, label=payload.get("label", ""), group=payload.get("group", "information"),
                      options=tuple(payload.get("options", ())), hubspot_defined=False,
                      description=payload.get("description", "")))
    fill = int(payload.get("fill", 0))
    pool = [otype_rec for otype_rec in (store.records[otype.name][i] for i in store.order[otype.name])
            if otype_rec.visible]
    chosen = sorted(rng.sample(pool, min(fill, len(pool))), key=lambda r: r.id)
    for record in chosen:
        if "value" in payload:
            value = payload["value"]
        elif kind == "number":
            value = str(rng.randint(1, 1000))
        elif kind == "bool":
            value = rng.choice(("true", "false"))
        elif kind in ("datetime", "date"):
            value = iso(store.now - rng.randint(0, 30) * 86_400_000)
            value = value[:10] if kind == "date" else value
        elif kind == "enumeration" and payload.get("options"):
            value = rng.choice(payload["options"])
        else:
            value = f"{name}-{rng.randint(1, 999)}"
        record.props[name] = value
        store.touch(otype.name, record, store.now)
    return {"object": otype.name, "name": name, "type": kind, "filled": [str(r.id) for r in chosen],
            "modified_at": iso(store.now) if chosen else None}
