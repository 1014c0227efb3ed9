"""The HubSpot stand-in over real HTTP: what a client sees matches the ground truth, and the
API's limits, errors and changes over time behave as the real CRM v3/v4 API does."""
from __future__ import annotations

import time

import pytest
import requests

from sandbox import hubspot as hubspot_standin
from sandbox.hubspot.schema import parse_time

OBJECTS = ("contacts", "companies", "deals", "tickets")
CONTRACT = {
    "contacts": {"hs_object_id", "email", "firstname", "lastname", "phone", "company",
                 "lifecyclestage", "jobtitle", "city", "country", "hs_analytics_source",
                 "utm_campaign", "associatedcompanyid", "createdate", "lastmodifieddate",
                 "hs_lastmodifieddate", "hs_merged_object_ids"},
    "deals": {"hs_object_id", "dealname", "amount", "dealstage", "pipeline", "closedate",
              "hs_deal_stage_probability", "hs_is_closed", "hs_is_closed_won", "dealtype",
              "createdate", "hs_lastmodifieddate"},
    "companies": {"hs_object_id", "name", "domain", "industry", "city", "state", "country",
                  "numberofemployees", "annualrevenue", "createdate", "hs_lastmodifieddate"},
    "tickets": {"hs_object_id", "subject", "content", "hs_ticket_priority", "hs_ticket_category",
                "hs_resolution", "hs_pipeline", "hs_pipeline_stage", "createdate", "closed_date",
                "time_to_close", "source_type", "hs_lastmodifieddate"},
}


def page_all(session, base_url, obj, **params):
    """Every record of a list endpoint, following paging.next.after."""
    records, after = [], None
    while True:
        query = dict(params, limit=100, **({"after": after} if after else {}))
        response = session.get(f"{base_url}/crm/v3/objects/{obj}", params=query, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        records += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            return records


def search(session, base_url, obj, body):
    return session.post(f"{base_url}/crm/v3/objects/{obj}/search", json=body, timeout=30)


def search_all(session, base_url, obj, body):
    out, after = [], None
    while True:
        response = search(session, base_url, obj, dict(body, limit=200, **({"after": after} if after else {})))
        assert response.status_code == 200, response.text
        data = response.json()
        out += data["results"]
        after = data.get("paging", {}).get("next", {}).get("after")
        if not after:
            return data["total"], out


@pytest.fixture
def fast(hubspot):
    """The shared stand-in with budgets large enough for bulk reads in this test."""
    hubspot.limits(ten_second_budget=100_000, search_per_second=1000)
    return hubspot


@pytest.fixture
def mutable(fast):
    """For tests that change data: the shared stand-in is re-seeded afterwards."""
    yield fast
    fast.reset()


# --- reading ------------------------------------------------------------------------------

@pytest.mark.parametrize("obj", OBJECTS)
def test_paging_returns_exactly_the_seeded_records(fast, obj):
    truth = fast.state(obj, properties=sorted(CONTRACT[obj]))
    session = fast.session()
    active = page_all(session, fast.base_url, obj, properties=",".join(sorted(CONTRACT[obj])))
    archived = page_all(session, fast.base_url, obj, archived="true",
                        properties=",".join(sorted(CONTRACT[obj])))

    expected = {r["id"]: r for r in truth["results"] if not r["archived"] and not r["mergedInto"]}
    assert [r["id"] for r in active] == sorted(expected, key=int)
    for record in active:
        row = expected[record["id"]]
        assert record["properties"] == row["properties"]
        assert (record["createdAt"], record["updatedAt"], record["archived"]) == \
            (row["createdAt"], row["updatedAt"], False)
        assert all(v is None or isinstance(v, str) for v in record["properties"].values())
    assert {r["id"] for r in archived} == {r["id"] for r in truth["results"]
                                           if r["archived"] and not r["mergedInto"]}
    assert all(r["archived"] and r["archivedAt"].endswith("Z") for r in archived)
    assert len(active) == fast.manifest()[obj]["active"] > 0


def test_records_have_hubspot_shape_and_default_properties(fast):
    response = fast.session().get(f"{fast.base_url}/crm/v3/objects/contacts", timeout=10)
    body = response.json()
    assert len(body["results"]) == 10 and "after" in body["paging"]["next"]
    assert body["paging"]["next"]["link"].startswith(f"{fast.base_url}/crm/v3/objects/contacts?")
    record = body["results"][0]
    assert set(record) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert set(record["properties"]) == {"createdate", "email", "firstname", "hs_object_id",
                                         "lastmodifieddate", "lastname"}
    assert record["updatedAt"][-5] == "." and record["updatedAt"].endswith("Z")
    for name in ("X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining",
                 "X-HubSpot-RateLimit-Daily", "X-HubSpot-RateLimit-Daily-Remaining"):
        assert response.headers[name].isdigit()
    assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"


def test_properties_api_lists_the_contract(fast):
    session = fast.session()
    for obj, names in CONTRACT.items():
        results = session.get(f"{fast.base_url}/crm/v3/properties/{obj}", timeout=10).json()["results"]
        by_name = {p["name"]: p for p in results}
        assert names <= set(by_name) and len(by_name) > 100
        assert all(p["type"] in ("string", "number", "datetime", "date", "bool", "enumeration")
                   and p["hidden"] is False for p in results)
    deals = {p["name"]: p for p in session.get(f"{fast.base_url}/crm/v3/properties/deals").json()["results"]}
    assert (deals["amount"]["type"], deals["closedate"]["type"], deals["hs_is_closed"]["type"]) == \
        ("number", "datetime", "bool")
    assert [o["value"] for o in deals["dealstage"]["options"]][-2:] == ["closedwon", "closedlost"]


def test_batch_read_and_single_read(fast):
    session = fast.session()
    truth = [r for r in fast.state("deals", properties=["amount"])["results"] if not r["archived"]]
    ids = [r["id"] for r in truth[:5]]
    response = session.post(f"{fast.base_url}/crm/v3/objects/deals/batch/read", timeout=10,
                            json={"properties": ["amount"], "inputs": [{"id": i} for i in ids]})
    assert response.status_code == 200 and response.json()["status"] == "COMPLETE"
    assert {r["id"]: r["properties"]["amount"] for r in response.json()["results"]} == \
        {r["id"]: r["properties"]["amount"] for r in truth[:5]}
    partial = session.post(f"{fast.base_url}/crm/v3/objects/deals/batch/read",
                           json={"inputs": [{"id": ids[0]}, {"id": "1"}]})
    assert partial.status_code == 207 and partial.json()["errors"][0]["context"]["ids"] == ["1"]
    too_many = session.post(f"{fast.base_url}/crm/v3/objects/deals/batch/read",
                            json={"inputs": [{"id": str(i)} for i in range(101)]})
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    one = session.get(f"{fast.base_url}/crm/v3/objects/deals/{ids[0]}", params={"properties": "amount"})
    assert one.status_code == 200 and one.json()["id"] == ids[0]
    assert session.get(f"{fast.base_url}/crm/v3/objects/deals/1").status_code == 404


# --- search -------------------------------------------------------------------------------

def test_search_filters_sorts_and_pages(fast):
    session = fast.session()
    rows = [r for r in fast.state("contacts", properties=["email", "lastmodifieddate",
                                                          "lifecyclestage", "utm_campaign"])["results"]
            if not r["archived"] and not r["mergedInto"]]
    cut = sorted(r["properties"]["lastmodifieddate"] for r in rows)[len(rows) // 2]
    cut_ms = parse_time(cut)
    want = {r["id"] for r in rows if r["properties"]["lastmodifieddate"] >= cut}

    for value in (str(cut_ms), cut_ms, cut):   # epoch ms as string, as number, ISO
        total, found = search_all(session, fast.base_url, "contacts", {
            "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                           "value": value}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["email", "lastmodifieddate"]})
        assert total == len(want) and {r["id"] for r in found} == want
        stamps = [r["properties"]["lastmodifieddate"] for r in found]
        assert stamps == sorted(stamps)
        assert all("associations" not in r for r in found)

    total, found = search_all(session, fast.base_url, "contacts", {
        "filterGroups": [{"filters": [{"propertyName": "lifecyclestage", "operator": "IN",
                                       "values": ["customer", "evangelist"]}]},
                         {"filters": [{"propertyName": "utm_campaign", "operator": "EQ",
                                       "value": "gads-000007"}]}],
        "sorts": ["-createdate"]})
    assert {r["id"] for r in found} == {r["id"] for r in rows if r["properties"]["lifecyclestage"]
                                        in ("customer", "evangelist")
                                        or r["properties"]["utm_campaign"] == "gads-000007"}
    created = [r["properties"]["createdate"] for r in found]
    assert created == sorted(created, reverse=True)

    low, high = sorted(r["properties"]["lastmodifieddate"] for r in rows)[10:12]
    between = search(session, fast.base_url, "contacts", {"filterGroups": [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "BETWEEN", "value": low, "highValue": high}]}]})
    assert between.json()["total"] == 2
    has = search(session, fast.base_url, "contacts", {"filterGroups": [{"filters": [
        {"propertyName": "utm_campaign", "operator": "HAS_PROPERTY"}]}]}).json()
    assert has["total"] == fast.manifest()["contacts"]["with_utm_campaign"]
    assert "X-HubSpot-RateLimit-Max" not in search(session, fast.base_url, "deals", {}).headers

    by_id = search(session, fast.base_url, "contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_object_id", "operator": "GT", "value": rows[-3]["id"]}]}],
        "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}]}).json()
    assert [r["id"] for r in by_id["results"]] == [r["id"] for r in rows[-2:]]


def test_search_cannot_page_past_10000_results(fast):
    session = fast.session()
    ok = search(session, fast.base_url, "contacts", {"after": 9800, "limit": 200})
    assert ok.status_code == 200 and ok.json()["results"] == []
    past = search(session, fast.base_url, "contacts", {"after": "9900", "limit": 200})
    assert past.status_code == 400
    body = past.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR" and body["correlationId"]
    assert search(session, fast.base_url, "contacts", {"limit": 201}).status_code == 400


def test_search_walls_at_10000_on_a_large_portal(tmp_path):
    from tests.conftest import free_port

    url = hubspot_standin.start(tmp_path, port=free_port(), contacts=10_300, scale=0.05,
                                search_per_second=1000)
    try:
        session = requests.Session()
        session.trust_env = False
        session.headers["Authorization"] = "Bearer sandbox-token"
        after, seen, status = None, 0, None
        while True:
            response = search(session, url, "contacts", {"limit": 200, **({"after": after} if after else {})})
            status = response.status_code
            if status != 200:
                break
            data = response.json()
            seen += len(data["results"])
            after = data.get("paging", {}).get("next", {}).get("after")
            if not after:
                break
        assert (status, seen) == (400, 10_000) and data["total"] > 10_000
    finally:
        hubspot_standin.stop(tmp_path)


def test_search_has_its_own_per_second_limit_and_indexing_lag(mutable):
    hs = mutable
    session = hs.session()
    hs.limits(search_per_second=2, omit_retry_after_ratio=0)
    statuses = [search(session, hs.base_url, "deals", {}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].json()["policyName"] == "SECONDLY"
    assert "X-HubSpot-RateLimit-Remaining" not in statuses[2].headers

    hs.limits(search_per_second=1000, indexing_lag_seconds=1.0)
    changed = hs.advance(seconds=60, updates=3, object="deals")
    ids = set(changed["changes"]["deals"]["updated"])
    recent = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                                             "value": changed["previous_now"]}]}]}
    assert search(session, hs.base_url, "deals", recent).json()["total"] == 0
    time.sleep(1.1)
    assert {r["id"] for r in search(session, hs.base_url, "deals", recent).json()["results"]} == ids


# --- errors and limits --------------------------------------------------------------------

def test_wrong_or_missing_token_is_401(fast):
    for headers in ({"Authorization": "Bearer wrong"}, {}):
        response = requests.get(f"{fast.base_url}/crm/v3/objects/contacts", headers=headers, timeout=10)
        assert response.status_code == 401
        body = response.json()
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert len(body["correlationId"]) == 36 and body["message"]


def test_unknown_object_type_is_404(fast):
    response = fast.session().get(f"{fast.base_url}/crm/v3/objects/unicorns", timeout=10)
    assert response.status_code == 404 and response.json()["status"] == "error"


def test_ten_second_and_daily_budgets_give_429(hubspot):
    session = hubspot.session()
    hubspot.limits(ten_second_budget=3, omit_retry_after_ratio=0)
    hubspot.reset_stats()
    url = f"{hubspot.base_url}/crm/v3/objects/companies"
    responses = [session.get(url, timeout=10) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    limited = responses[3]
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.json()["category"] == "RATE_LIMITS"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "3"

    hubspot.limits(ten_second_budget=1, omit_retry_after_ratio=1)
    session.get(url)
    assert "Retry-After" not in session.get(url).headers

    hubspot.limits(ten_second_budget=100, daily_budget=2)
    daily = [session.get(url, timeout=10) for _ in range(3)]
    assert [r.status_code for r in daily] == [200, 200, 429]
    assert daily[2].json()["policyName"] == "DAILY"
    assert daily[1].headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    stats = hubspot.stats()
    assert stats["rate_limited"] == {"TEN_SECONDLY_ROLLING": 2, "DAILY": 1}


def test_over_long_url_is_414(fast):
    session = fast.session()
    names = [p["name"] for p in session.get(f"{fast.base_url}/crm/v3/properties/contacts").json()["results"]]
    response = session.get(f"{fast.base_url}/crm/v3/objects/contacts",
                           params={"properties": ",".join(names)}, timeout=10)
    assert response.status_code == 414 and not response.text.startswith("{")
    fast.limits(max_url_length=16000, ten_second_budget=100_000)
    assert session.get(f"{fast.base_url}/crm/v3/objects/contacts",
                       params={"properties": ",".join(names)}).status_code == 200


def test_faults_give_5xx_and_dropped_connections(hubspot):
    session = hubspot.session()
    url = f"{hubspot.base_url}/crm/v3/objects/tickets"
    hubspot.limits(ten_second_budget=100_000)
    hubspot.faults(error_rate_5xx=1.0)
    assert {session.get(url).status_code for _ in range(12)} <= {500, 502, 503}

    def sequence():
        hubspot.faults(error_rate_5xx=0.3, drop_connection_rate=0.2, seed=7)
        out = []
        for _ in range(20):
            try:
                response = requests.Session().get(url, headers=hubspot.headers, timeout=10)
                response.json() if response.status_code != 502 else None
                out.append(response.status_code)
            except requests.exceptions.RequestException:
                out.append("dropped")
        return out

    first = sequence()
    assert first == sequence()
    assert "dropped" in first and 200 in first and any(s in (500, 502, 503) for s in first)
    stats = hubspot.stats()
    assert stats["dropped_connections"] >= 2 and stats["server_errors"] >= 12

    hubspot.faults(slow_ms=300)
    started = time.monotonic()
    assert session.get(url).status_code == 200 and time.monotonic() - started >= 0.3
    hubspot.faults()
    assert session.get(url).status_code == 200


# --- associations -------------------------------------------------------------------------

def test_associations_beyond_the_first_100(fast):
    session = fast.session()
    big = fast.manifest()["meta"]["big_company_id"]
    truth = next(r for r in fast.state("companies", properties=["name"])["results"] if r["id"] == big)
    contacts = truth["associations"]["contacts"]
    assert len(contacts) > 100

    record = session.get(f"{fast.base_url}/crm/v3/objects/companies/{big}",
                         params={"associations": "contacts"}).json()
    block = record["associations"]["contacts"]
    assert len(block["results"]) == 100 and block["paging"]["next"]["after"]
    entries, link = list(block["results"]), block["paging"]["next"]["link"]
    while link:
        page = session.get(link, timeout=10).json()
        entries += page["results"]
        link = page.get("paging", {}).get("next", {}).get("link")
    assert sorted({e["id"] for e in entries}, key=int) == contacts

    v4 = session.post(f"{fast.base_url}/crm/v4/associations/companies/contacts/batch/read",
                      json={"inputs": [{"id": big}]}).json()
    assert [str(t["toObjectId"]) for t in v4["results"][0]["to"]] == contacts
    assert all(isinstance(t["toObjectId"], int) for t in v4["results"][0]["to"])
    type_ids = {a["typeId"] for t in v4["results"][0]["to"] for a in t["associationTypes"]}
    assert type_ids <= {2, 280} and 280 in type_ids


def test_association_type_ids_and_missing_associations(fast):
    session = fast.session()
    rows = [r for r in fast.state("contacts", properties=["associatedcompanyid"])["results"]
            if not r["archived"] and not r["mergedInto"]]
    with_company = next(r for r in rows if r["properties"]["associatedcompanyid"])
    without = next(r for r in rows if not r["associations"]["companies"])
    response = session.post(f"{fast.base_url}/crm/v4/associations/contacts/companies/batch/read",
                            json={"inputs": [{"id": with_company["id"]}, {"id": without["id"]}]})
    assert response.status_code == 207
    body = response.json()
    to = {t["toObjectId"]: {a["typeId"] for a in t["associationTypes"]} for t in body["results"][0]["to"]}
    assert to[int(with_company["properties"]["associatedcompanyid"])] == {1, 279}
    assert body["errors"][0]["context"]["fromObjectId"] == [without["id"]]
    deals = session.post(f"{fast.base_url}/crm/v4/associations/deals/contacts/batch/read",
                         json={"inputs": [{"id": r["id"]} for r in
                                          fast.state("deals", properties=["amount"])["results"][:20]
                                          if r["associations"]["contacts"] and not r["archived"]]}).json()
    assert {a["typeId"] for r in deals["results"] for t in r["to"] for a in t["associationTypes"]} == {3}


# --- seed, dirty data ---------------------------------------------------------------------

def test_manifest_counts_match_the_data(fast):
    manifest = fast.manifest()
    contacts = [r for r in fast.state("contacts", properties=["email", "firstname"])["results"]
                if not r["archived"] and not r["mergedInto"]]
    emails = [r["properties"]["email"] for r in contacts]
    regex = __import__("re").compile(manifest["meta"]["email_regex"])
    invalid = sum(1 for e in emails if e is not None and not regex.match(e))
    assert manifest["contacts"]["invalid_emails"] == invalid
    assert 0.02 <= invalid / len(contacts) <= 0.045
    assert manifest["contacts"]["empty_emails"] == emails.count("") > 0
    assert 0.005 <= manifest["contacts"]["duplicate_emails"] / len(contacts) <= 0.02
    assert manifest["contacts"]["merged"] > 0 and manifest["contacts"]["archived"] > 0
    deals = [r for r in fast.state("deals", properties=["amount", "dealstage"])["results"]
             if not r["archived"]]
    missing = [r for r in deals if not r["properties"]["amount"]]
    assert manifest["deals"]["deals_without_amount"] == len(missing)
    assert 0.03 <= len(missing) / len(deals) <= 0.07
    assert manifest["deals"]["deals_without_amount_closedwon"] > 0
    amounts = [r["properties"]["amount"] for r in deals if r["properties"]["amount"]]
    assert any(a.endswith(".0") for a in amounts) and any("E" in a for a in amounts)
    assert manifest["contacts"]["unicode_names"] > 0
    assert manifest["contacts"]["max_associations"]["companies"]["count"] >= 1
    assert manifest["companies"]["max_associations"]["contacts"]["count"] > 100


def test_same_seed_gives_the_same_data(tmp_path):
    from tests.conftest import free_port

    states = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        url = hubspot_standin.start(tmp_path / name, port=free_port(), seed=seed, contacts=300,
                                    scale=0.05)
        try:
            assert hubspot_standin.start(tmp_path / name, port=1, seed=seed) == url   # idempotent
            assert hubspot_standin.is_running(tmp_path / name)
            session = requests.Session()
            session.trust_env = False
            states.append([session.get(f"{url}/_sandbox/state", params={"object": o}).json()["results"]
                           for o in OBJECTS])
        finally:
            assert hubspot_standin.stop(tmp_path / name)
        assert not hubspot_standin.is_running(tmp_path / name)
    assert states[0] == states[1]
    assert states[0] != states[2]
    assert len(states[0][0]) == 300


# --- changes over time --------------------------------------------------------------------

def test_advance_updates_creates_archives_and_merges(mutable):
    hs = mutable
    session = hs.session()
    before = {r["id"]: r for r in hs.state("contacts", properties=["lastmodifieddate"])["results"]}
    result = hs.advance(seconds=3600, updates=5, creates=3, archives=2, merges=2)
    window = (result["previous_now"], result["now"])
    change = result["changes"]["contacts"]
    assert len(change["updated"]) == 5 and len(change["created"]) == 3
    after = {r["id"]: r for r in hs.state("contacts", properties=[
        "lastmodifieddate", "hs_lastmodifieddate", "hs_merged_object_ids", "createdate"])["results"]}

    for rid in change["updated"]:
        props = after[rid]["properties"]
        assert window[0] < props["lastmodifieddate"] <= window[1]
        assert props["lastmodifieddate"] == props["hs_lastmodifieddate"] == after[rid]["updatedAt"]
    for rid in change["created"]:
        assert rid not in before and window[0] < after[rid]["properties"]["createdate"] <= window[1]
    for rid in change["archived"]:
        assert after[rid]["archived"] and window[0] < after[rid]["archivedAt"] <= window[1]
        assert after[rid]["updatedAt"] == before[rid]["updatedAt"]   # archiving does not bump
    listed = {r["id"] for r in page_all(session, hs.base_url, "contacts")}
    archived = {r["id"] for r in page_all(session, hs.base_url, "contacts", archived="true")}
    assert set(change["archived"]) <= archived and not set(change["archived"]) & listed
    assert set(change["created"]) <= listed

    for merge in change["merged"]:
        gone, into = merge["merged"], merge["into"]
        assert gone not in listed and gone not in archived and into in listed
        assert gone in after[into]["properties"]["hs_merged_object_ids"].split(";")
        assert window[0] < after[into]["properties"]["lastmodifieddate"] <= window[1]
        found = search(session, hs.base_url, "contacts", {"filterGroups": [{"filters": [
            {"propertyName": "hs_object_id", "operator": "EQ", "value": gone}]}]}).json()
        assert found["total"] == 0

    since = search(session, hs.base_url, "contacts", {"filterGroups": [{"filters": [
        {"propertyName": "lastmodifieddate", "operator": "GT", "value": window[0]}]}]}).json()
    assert since["total"] == len(set(change["updated"]) | set(change["created"])
                                 | {m["into"] for m in change["merged"]})


def test_bulk_update_sets_one_timestamp_on_thousands(mutable):
    hs = mutable
    result = hs.advance(seconds=86_400, bulk_update={"object": "contacts", "count": 1500})
    change = result["changes"]["contacts"]
    assert len(change["bulk_updated"]) == 1500
    stamp = change["bulk_timestamp"]
    rows = {r["id"]: r for r in hs.state("contacts", properties=["hs_lastmodifieddate"])["results"]}
    assert {rows[i]["properties"]["hs_lastmodifieddate"] for i in change["bulk_updated"]} == {stamp}
    total = search(hs.session(), hs.base_url, "contacts", {"filterGroups": [{"filters": [
        {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": stamp}]}]}).json()["total"]
    assert total == 1500


def test_new_property_appears_and_bumps_filled_records(mutable):
    hs = mutable
    added = hs.add_property("deals", "forecast_category", "enumeration",
                            options=["pipeline", "commit"], fill=7)
    assert len(added["filled"]) == 7
    names = {p["name"] for p in hs.session().get(f"{hs.base_url}/crm/v3/properties/deals").json()["results"]}
    assert "forecast_category" in names
    rows = {r["id"]: r for r in hs.state("deals", properties=["forecast_category"])["results"]}
    assert all(rows[i]["properties"]["forecast_category"] in ("pipeline", "commit")
               and rows[i]["updatedAt"] == added["modified_at"] for i in added["filled"])


def test_custom_object_type_is_served_like_the_standard_ones(fast):
    session = fast.session()
    truth = fast.state("p_subscriptions", properties=["plan", "mrr", "hs_createdate"])["results"]
    for path in ("p_subscriptions", "2-3508482"):
        records = page_all(session, fast.base_url, path, properties="plan,mrr")
        assert [r["id"] for r in records] == [r["id"] for r in truth
                                              if not r["archived"] and not r["mergedInto"]]
    assert "hs_createdate" in records[0]["properties"]
    types = {p["name"]: p["type"] for p in
             session.get(f"{fast.base_url}/crm/v3/properties/p_subscriptions").json()["results"]}
    assert types["started_on"] == "date" and types["mrr"] == "number"
    linked = next(r for r in truth if r["associations"]["contacts"] and not r["archived"])
    v4 = session.post(f"{fast.base_url}/crm/v4/associations/p_subscriptions/contacts/batch/read",
                      json={"inputs": [{"id": linked["id"]}]}).json()
    assert v4["results"][0]["to"][0]["associationTypes"][0]["category"] == "USER_DEFINED"
