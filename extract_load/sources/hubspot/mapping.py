"""HubSpot records -> bronze rows: casting each property by its HubSpot type, never failing.

A value that does not cast lands as null and its raw string is kept in `_raw_values` (a JSON
object {property: raw}). "" is null for every non-string type and kept as "" for strings
(string, enumeration and the other text types): silver decides what an empty string means.
"""
from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from typing import Any, Iterable

from .settings import (ASSOCIATION_COLUMNS, DEFAULT_DLT_TYPE, DLT_TYPES, RECORD_COLUMNS,
                       RESERVED_COLUMNS)

_DIGITS = re.compile(r"^-?\d+$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


class Uncastable(ValueError):
    """The value does not fit the property's type."""


def dlt_type(hubspot_type: str | None) -> str:
    return DLT_TYPES.get((hubspot_type or "").lower(), DEFAULT_DLT_TYPE)


def column_name(prop: str) -> str:
    """A property's bronze column: its own name, unless it collides with a system column."""
    return f"property_{prop}" if prop in RESERVED_COLUMNS else prop


def record_columns(property_types: dict[str, str]) -> dict[str, dict]:
    """dlt column hints of an object table: system columns, then one typed column per property."""
    columns = {name: dict(hint) for name, hint in RECORD_COLUMNS.items()}
    for prop, kind in property_types.items():
        columns[column_name(prop)] = {"data_type": dlt_type(kind), "nullable": True}
    return columns


def association_columns() -> dict[str, dict]:
    return {name: dict(hint) for name, hint in ASSOCIATION_COLUMNS.items()}


def parse_datetime(value: Any) -> datetime:
    """ISO 8601 (with Z or an offset, or a bare date) or epoch milliseconds -> aware UTC datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    text = str(value).strip()
    if _DIGITS.match(text):
        return datetime.fromtimestamp(int(text) / 1000, tz=timezone.utc)
    if len(text) == 10:
        text += "T00:00:00"
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Uncastable(text) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def cast_value(kind: str, value: Any) -> Any:
    """Cast one raw HubSpot value to the Python value of its bronze column; raise Uncastable."""
    if value is None:
        return None
    target = dlt_type(kind)
    if target == "text":
        return value if isinstance(value, str) else json.dumps(value)
    text = value.strip() if isinstance(value, str) else value
    if text == "":
        return None
    if target == "double":
        if isinstance(text, bool):
            raise Uncastable(text)
        try:
            number = float(text)
        except (TypeError, ValueError):
            raise Uncastable(text) from None
        if not math.isfinite(number):
            raise Uncastable(text)
        return number
    if target == "timestamp":
        return parse_datetime(text)
    if target == "date":
        if isinstance(text, str) and len(text) == 10:
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise Uncastable(text) from None
        return parse_datetime(text).date()
    if target == "bool":
        if isinstance(text, bool):
            return text
        lowered = str(text).lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise Uncastable(text)
    return text


def record_row(record: dict, property_types: dict[str, str]) -> dict:
    """One bronze row from a CRM v3 record (list, search or batch-read shape)."""
    properties = record.get("properties") or {}
    raw_values: dict[str, Any] = {}
    row: dict[str, Any] = {}
    for prop, kind in property_types.items():
        value = properties.get(prop)
        try:
            row[column_name(prop)] = cast_value(kind, value)
        except Uncastable:
            row[column_name(prop)] = None
            raw_values[prop] = value
    archived = bool(record.get("archived", False))
    row.update({
        "id": str(record["id"]) if record.get("id") is not None else None,
        "created_at": _timestamp(record.get("createdAt"), raw_values, "createdAt"),
        "updated_at": _timestamp(record.get("updatedAt"), raw_values, "updatedAt"),
        "archived": archived,
        "archived_at": _timestamp(record.get("archivedAt"), raw_values, "archivedAt"),
        "_is_deleted": archived,
        "_raw_values": json.dumps(raw_values, sort_keys=True, ensure_ascii=False) if raw_values else None,
    })
    return row


def _timestamp(value: Any, raw_values: dict, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_datetime(value)
    except Uncastable:
        raw_values[name] = value
        return None


def association_rows(from_id: str, targets: Iterable[dict]) -> list[dict]:
    """v4 association entries ({toObjectId, associationTypes}) -> one row per association type."""
    rows = []
    for target in targets:
        to_id = str(target.get("toObjectId", target.get("id", "")))
        for kind in target.get("associationTypes") or [{}]:
            type_id = kind.get("typeId")
            rows.append({
                "from_id": str(from_id),
                "to_id": to_id,
                "association_type_id": int(type_id) if type_id is not None else None,
                "association_category": kind.get("category"),
                "association_label": kind.get("label"),
                "_is_deleted": False,
            })
    return rows

