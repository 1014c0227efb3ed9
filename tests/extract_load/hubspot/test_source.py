"""The HubSpot source against the stand-in: real HTTP, real Spark and Delta.

Every test loads into a lakehouse and bronze/ops schemas of its own, so none depends on another's
tables; property lists are kept short where the test is not about properties, to keep Spark fast.
"""
from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import requests

from extract_load.sources.registry import load_config
from extract_load.errors import SourceError
from extract_load.ingest import IngestOptions, extract_hubspot_data
from extract_load.load.runner import land_source
from extract_load.load.runs import new_load_id
from extract_load.load.state import StateStore
from extract_load.sources import hubspot as source
from extract_load.sources.registry import settings as source_settings
from extract_load.sources.hubspot import settings
from extract_load.sources.hubspot.mapping import cast_value

PROPERTIES = {
    "contacts": ["email", "firstname", "lastname", "lifecyclestage", "phone", "associatedcompanyid",
                 "hs_merged_object_ids", "lastmodifieddate"],
    "deals": ["dealname", "amount", "dealstage", "closedate", "hs_is_closed", "hs_deal_stage_probability"],
    "companies": ["name", "domain", "numberofemployees", "annualrevenue"],
    "tickets": ["subject", "hs_ticket_priority", "hs_pipeline_stage", "closed_date", "time_to_close"],
}


def endpoints(*names, associations=None, properties=None):
    associations = associations or {}
    out = []
    for name in names:
        entry = {"name": name, "path": f"/crm/v3/objects/{name}", "frequency": "hourly",
                 "properties": (properties or {}).get(name, PROPERTIES[name]),
                 "associations": associations.get(name, [])}
        if name == "contacts":
            entry["last_modified_property"] = "lastmodifieddate"
        out.append(entry)
    return out


def make_config(write_config, run_dir: Path, sandbox, tag: str, hubspot: dict):
    overrides = {
        "lakehouse": {"root": str(run_dir / f"lakehouse_{tag}"), "bronze_schema": f"bronze_{tag}",
                      "ops_schema": f"ops_{tag}"},
        "work_dir": str(run_dir / f"work_{tag}"),
        "data_sources": {"hubspot": {"base_url": sandbox.base_url, "api_key": sandbox.token, "allow_http": True,
                                     "rate_limit": 1000, "search_rate_limit": 50, **hubspot}},
    }
    return load_config(path=write_config(overrides, name=f"hubspot-{tag}.yaml"))


def ingest(spark, config, names, options=IngestOptions()):
    """The runner's loop over HubSpot objects, as `python -m extract_load ingest --source hubspot` runs it."""
    return land_source(spark, config, source.SOURCE, names, new_load_id(), options)


def run(spark, config, names, options=IngestOptions()):
    runs = ingest(spark, config, names, options)
    failed = {r.object: r.error for r in runs if r.status == "failed"}
    assert not failed, failed
    return {r.object: r for r in runs}


def utc(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def bronze(spark, config, table):
    return {r["id"]: r.asDict() for r in spark.table(config.bronze_table("hubspot", table)).collect()}


def assert_matches_truth(spark, config, sandbox, obj):
    """Bronze holds every active and archived record of `obj` with the stand-in's values; records
    merged away after they were loaded stay, and their survivor lists them."""
    props = source_settings(config, "hubspot").endpoint(obj).properties
    types = {p["name"]: p["type"] for p in sandbox.session().get(
        f"{sandbox.base_url}/crm/v3/properties/{obj}").json()["results"]}
    truth = sandbox.state(obj, properties=props)["results"]
    rows = bronze(spark, config, obj)
    merged_away = {r["id"] for r in truth if r["mergedInto"]}
    live = {r["id"]: r for r in truth if not r["mergedInto"]}
    assert set(live) <= set(rows), f"missing {sorted(set(live) - set(rows))[:5]}"
    extra = set(rows) - set(live)
    assert extra <= merged_away, f"unexpected ids {sorted(extra - merged_away)[:5]}"
    listed = {i for r in rows.values() for i in (r.get("hs_merged_object_ids") or "").split(";") if i}
    assert extra <= listed, "a merged-away contact is not listed by its survivor"
    for record_id, record in live.items():
        row = rows[record_id]
        assert row["_is_deleted"] is record["archived"], record_id
        assert utc(row["updated_at"]) == datetime.fromisoformat(record["updatedAt"].replace("Z", "+00:00"))
        if record["archived"]:
            assert utc(row["archived_at"]) == datetime.fromisoformat(record["archivedAt"].replace("Z", "+00:00"))
        raw = json.loads(row["_raw_values"]) if row["_raw_values"] else {}
        for prop in props:
            value = record["properties"].get(prop)
            try:
                expected = cast_value(types[prop], value)
            except ValueError:
                expected = None
                assert raw.get(prop) == value, (record_id, prop)
            assert utc(row[prop]) == expected, (obj, record_id, prop, row[prop], value)
    return rows, truth


def assert_links_match_truth(spark, config, sandbox, obj, to):
    truth = {r["id"]: set(r["associations"].get(to, [])) for r in sandbox.state(obj)["results"]
             if not r["archived"] and not r["mergedInto"]}
    rows = spark.table(config.bronze_table("hubspot", f"{obj}_to_{to}")).filter("NOT _is_deleted").collect()
    found: dict[str, set] = {}
    for row in rows:
        found.setdefault(row["from_id"], set()).add(row["to_id"])
    for record_id, targets in truth.items():
        assert found.get(record_id, set()) == targets, (obj, to, record_id)
    return found


def no_duplicate_keys(spark, config, table, keys=("id",)):
    frame = spark.table(config.bronze_table("hubspot", table))
    assert frame.groupBy(*keys).count().filter("count > 1").count() == 0


# --- the tests --------------------------------------------------------------------------------

def test_full_then_incremental_loads_match_the_ground_truth(spark, hubspot, write_config, run_dir, caplog):
    caplog.set_level(logging.DEBUG)
    config = make_config(write_config, run_dir, hubspot, "truth", {
        "tables": endpoints("contacts", "deals", associations={"contacts": ["companies"], "deals": ["contacts"]})})
    first = run(spark, config, ["contacts", "deals"])
    assert {r.mode for r in first.values()} == {"full"}
    for obj in ("contacts", "deals"):
        assert_matches_truth(spark, config, hubspot, obj)
    assert_links_match_truth(spark, config, hubspot, "contacts", "companies")
    assert_links_match_truth(spark, config, hubspot, "deals", "contacts")

    changes = hubspot.advance(seconds=3600, updates={"contacts": 40, "deals": 25}, archives={"contacts": 6, "deals": 3},
                              merges=4, creates={"contacts": 8, "deals": 5}, objects=["contacts", "deals"])
    archived = changes["changes"]["contacts"]["archived"]
    second = run(spark, config, ["contacts", "deals"])
    contacts = second["contacts"]
    assert contacts.mode == "incremental" and contacts.status == "success"
    assert contacts.cursor_after > contacts.cursor_before
    assert contacts.requests > 0 and contacts.rows_extracted < 200    # only what changed
    rows, _ = assert_matches_truth(spark, config, hubspot, "contacts")
    assert all(rows[i]["_is_deleted"] for i in archived)
    for merge in changes["changes"]["contacts"]["merged"]:
        assert merge["merged"] in rows[merge["into"]]["hs_merged_object_ids"].split(";")
    assert_matches_truth(spark, config, hubspot, "deals")
    assert_links_match_truth(spark, config, hubspot, "contacts", "companies")
    assert_links_match_truth(spark, config, hubspot, "deals", "contacts")   # links to merged contacts moved
    for table in ("contacts", "deals"):
        no_duplicate_keys(spark, config, table)
    state = StateStore(spark, config).get("hubspot", "contacts")
    assert state["cursor"] == contacts.cursor_after and not state.get("resume")
    assert hubspot.token not in caplog.text


def test_associations_beyond_100_per_record_are_complete(spark, hubspot, write_config, run_dir):
    config = make_config(write_config, run_dir, hubspot, "links", {
        "tables": endpoints("companies", associations={"companies": ["contacts"]})})
    big = hubspot.manifest()["companies"]["max_associations"]
    assert big["contacts"]["count"] > 100
    run(spark, config, ["companies"])
    contacts = assert_links_match_truth(spark, config, hubspot, "companies", "contacts")
    assert len(contacts[big["contacts"]["id"]]) == big["contacts"]["count"]
    columns = dict(spark.table(config.bronze_table("hubspot", "companies_to_contacts")).dtypes)
    assert columns["association_type_id"] == "int" and columns["_is_deleted"] == "boolean"
    no_duplicate_keys(spark, config, "companies_to_contacts", settings.ASSOCIATION_KEYS)


def test_all_properties_of_a_wide_object_without_a_414(hubspot):
    """Contacts have ~420 properties: too many for one GET URL. The rest come by batch read."""
    config = load_config_for_api(hubspot)
    api = source.HubSpotAPI(config)
    names = [p["name"] for p in api.properties("contacts")]
    assert len(",".join(names)) > 8000
    hubspot.reset_stats()
    records = [r for page, _ in api.list_pages("/crm/v3/objects/contacts", names) for r in page]
    assert records and all(len(r["properties"]) >= len(names) for r in records)
    assert "414" not in hubspot.stats()["by_status"]


def load_config_for_api(sandbox):
    from pydantic import SecretStr

    from extract_load.sources.hubspot import HubSpotConfig

    return HubSpotConfig(base_url=sandbox.base_url, api_key=SecretStr(sandbox.token), allow_http=True,
                         rate_limit=1000, search_rate_limit=50,
                         tables=[{"name": "contacts", "path": "/crm/v3/objects/contacts"}])


@pytest.fixture(scope="module")
def big_hubspot(tmp_path_factory):
    """A stand-in of its own with 12,000 contacts, for more than 10,000 changes in one window."""
    from sandbox import hubspot as standin
    from tests.conftest import free_port
    from tests.fixtures.hubspot_sandbox import HubSpotSandbox

    data_dir = tmp_path_factory.mktemp("hubspot-big")
    port = free_port()
    url = standin.start(data_dir, port=port, seed=7, contacts=12_000, token="big-token",
                        ten_second_budget=100_000, search_per_second=1_000)
    try:
        yield HubSpotSandbox(base_url=url, token="big-token", data_dir=data_dir, port=port, seed=7)
    finally:
        standin.stop(data_dir)


def test_more_than_10000_changes_sharing_one_timestamp_load_completely(spark, big_hubspot, write_config, run_dir):
    config = make_config(write_config, run_dir, big_hubspot, "bulk", {
        "search_page_size": 200,
        "tables": endpoints("contacts", properties={"contacts": ["email", "hs_custom_field_100", "lastmodifieddate"]})})
    run(spark, config, ["contacts"])
    changes = big_hubspot.advance(seconds=600, updates={"contacts": 300}, objects="contacts",
                                  bulk_update={"object": "contacts", "count": 11_000, "property": "hs_custom_field_100",
                                               "value": "month-end"})
    bulk = set(changes["changes"]["contacts"]["bulk_updated"])
    assert len(bulk) == 11_000
    big_hubspot.reset_stats()
    second = run(spark, config, ["contacts"])["contacts"]
    assert second.mode == "incremental" and second.rows_extracted >= 11_000
    stats = big_hubspot.stats()
    assert "400" not in stats["by_status"], stats["by_status"]
    rows, _ = assert_matches_truth(spark, config, big_hubspot, "contacts")
    assert {i for i, r in rows.items() if r["hs_custom_field_100"] == "month-end"} == bulk
    no_duplicate_keys(spark, config, "contacts")


class Crash(RuntimeError):
    pass


def test_an_interrupted_run_resumes_without_duplicates_or_gaps(spark, hubspot, write_config, run_dir, monkeypatch):
    config = make_config(write_config, run_dir, hubspot, "resume", {
        "page_size": 100, "search_page_size": 50, "tables": endpoints("deals")})
    monkeypatch.setattr(settings, "CHECKPOINT_RECORDS", 400)
    original_list, original_search = source.HubSpotAPI.list_pages, source.HubSpotAPI.search_pages

    def crash_after(original, pages):
        def wrapper(self, *args, **kwargs):
            for n, page in enumerate(original(self, *args, **kwargs)):
                if n == pages:
                    raise Crash("simulated crash")
                yield page
        return wrapper

    monkeypatch.setattr(source.HubSpotAPI, "list_pages", crash_after(original_list, 5))
    failed = ingest(spark, config, ["deals"])[0]
    assert failed.status == "failed" and "simulated crash" in failed.error
    state = StateStore(spark, config).get("hubspot", "deals")
    assert state["cursor"] is None and state["resume"]["mode"] == "full"
    partial = spark.table(config.bronze_table("hubspot", "deals")).count()
    assert 0 < partial < 800
    monkeypatch.setattr(source.HubSpotAPI, "list_pages", original_list)
    resumed = run(spark, config, ["deals"])["deals"]
    assert resumed.rows_extracted < 800     # carried on from the checkpoint
    assert_matches_truth(spark, config, hubspot, "deals")

    hubspot.advance(seconds=1800, updates={"deals": 150}, creates={"deals": 20}, objects="deals")
    monkeypatch.setattr(settings, "CHECKPOINT_RECORDS", 100)
    monkeypatch.setattr(source.HubSpotAPI, "search_pages", crash_after(original_search, 2))
    failed = ingest(spark, config, ["deals"])[0]
    assert failed.status == "failed" and failed.mode == "incremental"
    assert StateStore(spark, config).get("hubspot", "deals")["resume"]["after_id"]
    monkeypatch.setattr(source.HubSpotAPI, "search_pages", original_search)
    resumed = run(spark, config, ["deals"])["deals"]
    assert resumed.rows_extracted < 170
    assert_matches_truth(spark, config, hubspot, "deals")
    no_duplicate_keys(spark, config, "deals")


def test_5xx_bursts_dropped_connections_and_429s_are_survived(spark, hubspot, write_config, run_dir, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    config = make_config(write_config, run_dir, hubspot, "faults", {
        "rate_limit": 100, "search_rate_limit": 5, "tables": endpoints("tickets")})
    hubspot.faults(error_rate_5xx=0.2, drop_connection_rate=0.05, seed=3)
    hubspot.limits(ten_second_budget=12, search_per_second=1, omit_retry_after_ratio=0.5)
    hubspot.reset_stats()
    first = run(spark, config, ["tickets"])["tickets"]
    hubspot.advance(seconds=900, updates={"tickets": 30}, archives={"tickets": 2}, objects="tickets")
    second = run(spark, config, ["tickets"])["tickets"]
    stats = hubspot.stats()
    assert stats["server_errors"] > 0
    assert second.mode == "incremental"
    assert first.responses_429 + second.responses_429 == stats["rate_limited_total"]
    assert stats["rate_limited"].get("TEN_SECONDLY_ROLLING", 0) == 0     # the headers kept us inside
    assert first.wait_seconds > 0                                         # ... by waiting
    hubspot.reset_faults()
    hubspot.reset_limits()
    assert_matches_truth(spark, config, hubspot, "tickets")
    out = capsys.readouterr()
    assert hubspot.token not in caplog.text + out.out + out.err


def test_a_wrong_token_fails_fast_with_one_line_and_never_shows_a_token(spark, hubspot, write_config, run_dir,
                                                                        caplog, capsys):
    caplog.set_level(logging.DEBUG)
    secret = "pat-na1-wrong-0123456789abcdef"
    config = make_config(write_config, run_dir, hubspot, "token", {"api_key": secret,
                                                                   "tables": endpoints("contacts", "deals")})
    started = time.monotonic()
    runs = ingest(spark, config, ["contacts", "deals"])
    assert time.monotonic() - started < 10
    assert [r.status for r in runs] == ["failed", "failed"]
    assert sum(r.requests for r in runs) == 1
    for r in runs:
        assert "401" in r.error and "\n" not in r.error and secret not in r.error
    with pytest.raises(SourceError) as failure:
        source.check_connection(config)
    assert "401" in str(failure.value) and secret not in str(failure.value)
    assert failure.value.__context__ is None and failure.value.__cause__ is None
    good = make_config(write_config, run_dir, hubspot, "token_ok", {"tables": endpoints("contacts")})
    assert source.check_connection(good) == "HubSpot API connection successful"
    from tests.conftest import free_port
    nowhere = make_config(write_config, run_dir, hubspot, "token_nowhere",
                          {"base_url": f"http://127.0.0.1:{free_port()}", "tables": endpoints("contacts")})
    with pytest.raises(SourceError, match="unreachable") as failure:
        source.check_connection(nowhere)
    assert "\n" not in str(failure.value)
    out = capsys.readouterr()
    assert secret not in caplog.text + out.out + out.err


def test_extract_hubspot_data_returns_the_bronze_table(spark, hubspot, write_config, run_dir):
    """The seed guide's entry point: load one object, get its bronze table back."""
    config = make_config(write_config, run_dir, hubspot, "extract", {"tables": endpoints("companies")})
    frame = extract_hubspot_data(spark, config, "companies")
    columns = dict(frame.dtypes)
    assert columns["id"] == "string" and columns["numberofemployees"] == "double"
    assert columns["updated_at"] == "timestamp" and columns["_is_deleted"] == "boolean"
    assert {"_raw_values", "_loaded_at", "_load_id", "archived_at", "created_at"} <= set(columns)
    truth = hubspot.state("companies")
    assert frame.count() == truth["active"] + truth["archived"]


def test_odd_answers_fail_the_object_and_never_advance_its_cursor(spark, hubspot, write_config, run_dir):
    config = make_config(write_config, run_dir, hubspot, "odd", {"tables": endpoints("deals")})
    first = run(spark, config, ["deals"])["deals"]
    hubspot.advance(seconds=900, updates={"deals": 40}, archives={"deals": 3}, objects="deals")
    for fault in ({"partial_rate": 1.0}, {"batch_error_rate": 1.0}):
        hubspot.faults(**fault)
        failed = ingest(spark, config, ["deals"])[0]
        assert failed.status == "failed" and "\n" not in failed.error, fault
        assert "without results" in failed.error or "it cannot skip" in failed.error, failed.error
        assert StateStore(spark, config).get("hubspot", "deals")["cursor"] == first.cursor_after
        hubspot.reset_faults()
    again = run(spark, config, ["deals"])["deals"]
    assert again.mode == "incremental" and again.cursor_before == first.cursor_after
    assert_matches_truth(spark, config, hubspot, "deals")
