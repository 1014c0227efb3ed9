"""Pieces of the HubSpot source that need no server: casting, budgets, paginators, URL splitting."""
from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from pydantic import SecretStr

from extract_load.sources.hubspot import HubSpotConfig
from extract_load.sources.hubspot import settings
from extract_load.sources.hubspot.budget import RateBudget
from extract_load.sources.hubspot.helpers import HubSpotAPI, SearchKeysetPaginator
from extract_load.sources.hubspot.mapping import association_rows, cast_value, record_columns, record_row


def test_values_cast_by_hubspot_type_and_bad_ones_keep_their_raw_string():
    types = {"amount": "number", "closedate": "datetime", "birthday": "date", "hs_is_closed": "bool",
             "dealname": "string", "stage": "enumeration", "broken": "number"}
    record = {"id": "7", "createdAt": "2026-10-01T10:00:00.000Z", "updatedAt": "2026-10-02T10:00:00Z",
              "archived": False,
              "properties": {"amount": "1.50E3", "closedate": "1698796800000", "birthday": "2026-01-31",
                             "hs_is_closed": "true", "dealname": "", "stage": "", "broken": "12,5"}}
    row = record_row(record, types)
    assert row["amount"] == 1500.0
    assert row["closedate"] == datetime(2023, 11, 1, tzinfo=timezone.utc)
    assert row["birthday"] == date(2026, 1, 31)
    assert row["hs_is_closed"] is True
    assert row["dealname"] == "" and row["stage"] == ""      # strings keep ""
    assert row["broken"] is None
    assert json.loads(row["_raw_values"]) == {"broken": "12,5"}
    assert row["id"] == "7" and row["_is_deleted"] is False and row["archived_at"] is None
    assert row["updated_at"] == datetime(2026, 10, 2, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("kind,raw,expected", [
    ("number", "", None), ("number", "  ", None), ("datetime", "", None), ("bool", "", None),
    ("number", "nan", "raw"), ("bool", "maybe", "raw"), ("date", "2026-02-30", "raw"),
    ("datetime", "2026-10-31", datetime(2026, 10, 31, tzinfo=timezone.utc)),
    ("datetime", "2026-10-31T23:59:59.123+02:00", datetime(2026, 10, 31, 21, 59, 59, 123000, tzinfo=timezone.utc)),
    ("date", "2026-10-31T00:00:00.000Z", date(2026, 10, 31)), ("bool", "FALSE", False),
    ("phone_number", "+1 555", "+1 555"), ("number", "-0.25", -0.25),
])
def test_cast_edge_cases(kind, raw, expected):
    if expected == "raw":
        row = record_row({"id": "1", "properties": {"p": raw}}, {"p": kind})
        assert row["p"] is None and json.loads(row["_raw_values"]) == {"p": raw}
    else:
        assert cast_value(kind, raw) == expected


def test_column_hints_type_every_property_and_rename_collisions():
    columns = record_columns({"amount": "number", "archived": "bool", "note": "json"})
    assert columns["amount"]["data_type"] == "double"
    assert columns["property_archived"]["data_type"] == "bool"   # `archived` is a system column
    assert columns["archived"]["data_type"] == "bool"
    assert columns["note"]["data_type"] == "text"
    row = record_row({"id": "1", "archived": True, "archivedAt": "2026-10-01T00:00:00Z",
                      "properties": {"archived": "false"}}, {"archived": "bool"})
    assert row["archived"] is True and row["property_archived"] is False and row["_is_deleted"] is True


def test_association_rows_one_per_type():
    rows = association_rows("1", [{"toObjectId": 9, "associationTypes": [
        {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"},
        {"category": "HUBSPOT_DEFINED", "typeId": 279, "label": None}]}])
    assert [(r["to_id"], r["association_type_id"], r["association_label"]) for r in rows] == [
        ("9", 1, "Primary"), ("9", 279, None)]


class FakeClock:
    def __init__(self):
        self.now, self.slept = 0.0, 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.slept += seconds


def test_budget_keeps_within_the_window_and_adopts_the_server_headers():
    clock = FakeClock()
    budget = RateBudget("general", 100, 10.0, pad=0.0, sleep=clock.sleep, clock=clock)
    for _ in range(95):
        assert budget.acquire() == 0.0
    assert budget.acquire() > 0          # the 96th waits: 100 less a 5 % margin
    assert clock.slept == pytest.approx(10.0)
    # another app spent 50 of an account limit of 60: we see it in the headers and hold back
    clock = FakeClock()
    budget = RateBudget("general", 100, 10.0, pad=0.0, sleep=clock.sleep, clock=clock)
    budget.acquire()
    budget.observe({"X-HubSpot-RateLimit-Max": "60", "X-HubSpot-RateLimit-Remaining": "9"})
    assert budget.limit == 60
    sent_without_wait = 0
    while budget.acquire() == 0.0:
        sent_without_wait += 1
    assert sent_without_wait <= 6         # 57 allowed - 51 counted


def test_budget_slows_down_after_a_429():
    clock = FakeClock()
    budget = RateBudget("search", 5, 1.0, pad=0.0, sleep=clock.sleep, clock=clock)
    budget.acquire()
    budget.penalize()
    assert budget.allowed == 2
    assert budget.acquire() > 0           # the window counts as full


class _Response:
    def __init__(self, body):
        self._body = body

    def json(self):
        return self._body


class _Request:
    def __init__(self, json):
        self.json = json


def test_search_pages_by_id_not_by_offset():
    body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1"}]}]}
    request = _Request(body)
    paginator = SearchKeysetPaginator()
    paginator.init_request(request)
    assert len(body["filterGroups"][0]["filters"]) == 1
    paginator.update_state(_Response({"results": [{"id": "5"}, {"id": "9"}], "paging": {"next": {"after": "2"}}}))
    paginator.update_request(request)
    assert paginator.has_next_page
    assert body["filterGroups"][0]["filters"][-1] == {"propertyName": "hs_object_id", "operator": "GT", "value": "9"}
    assert "after" not in body      # never an offset: no 10,000 cap, no shifted pages
    paginator.update_state(_Response({"results": [{"id": "12"}]}))
    assert not paginator.has_next_page


def test_long_property_lists_never_make_a_long_url():
    config = HubSpotConfig(base_url="https://api.hubapi.com", api_key=SecretStr("x"), tables=[])
    api = HubSpotAPI(config)
    names = [f"hs_custom_field_{i:03d}" for i in range(400)]
    fit, rest = api.split_properties("/crm/v3/objects/contacts", names, {"limit": 100, "archived": "false"})
    assert fit and rest and fit + rest == names
    from urllib.parse import urlencode
    url = f"https://api.hubapi.com/crm/v3/objects/contacts?{urlencode({'limit': 100, 'archived': 'false', 'properties': ','.join(fit), 'after': 'x' * 40})}"
    assert len(url) <= settings.MAX_URL_LENGTH
    assert "x" not in repr(api) and repr(api._token) == "'x'"
