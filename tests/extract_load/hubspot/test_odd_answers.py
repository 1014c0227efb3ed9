"""HubSpot's odd answers against the stand-in, over real HTTP: a 414 shrinks the URL and asks
again, an answer without `results` or a batch answer with an error it cannot skip is asked again
and, if it persists, fails with one line. None of them ever ends the paging quietly."""
from __future__ import annotations

import math

import pytest
from pydantic import SecretStr

from extract_load.sources.hubspot import HubSpotAPI, HubSpotConfig
from extract_load.sources.hubspot.helpers import OddAnswer

CONTACTS = "/crm/v3/objects/contacts"


def api(sandbox, **overrides) -> HubSpotAPI:
    return HubSpotAPI(HubSpotConfig(base_url=sandbox.base_url, api_key=SecretStr(sandbox.token), allow_http=True,
                                    rate_limit=1000, search_rate_limit=50, tables=[], **overrides))


def _live_ids(sandbox, obj="contacts") -> set[str]:
    return {r["id"] for r in sandbox.state(obj)["results"] if not r["archived"] and not r["mergedInto"]}


def test_a_414_halves_the_properties_in_the_url_until_the_server_accepts_it(hubspot):
    hubspot.limits(max_url_length=2000)            # a server stricter than the client assumes
    client = api(hubspot, max_url_length=8000)
    names = [p["name"] for p in client.properties("contacts")]
    hubspot.reset_stats()
    records = [r for page, _ in client.list_pages(CONTACTS, names) for r in page]
    assert {r["id"] for r in records} == _live_ids(hubspot)
    assert all(set(names) <= set(r["properties"]) for r in records)
    refused = hubspot.stats()["by_status"].get("414", 0)
    assert 1 <= refused <= math.ceil(math.log2(len(names)))  # learnt once, not per page


def test_a_lower_configured_url_limit_never_draws_a_414(hubspot):
    hubspot.limits(max_url_length=2000)
    client = api(hubspot, max_url_length=1900)
    names = [p["name"] for p in client.properties("contacts")]
    hubspot.reset_stats()
    pages = client.list_pages(CONTACTS, names)
    first, _ = next(pages)
    assert first and all(set(names) <= set(r["properties"]) for r in first)
    assert "414" not in hubspot.stats()["by_status"]


def test_answers_without_results_are_asked_again_never_taken_as_the_end(hubspot):
    hubspot.faults(partial_rate=0.2, seed=14)  # a seed whose odd answers never come three in a row
    client = api(hubspot, page_size=100)
    listed = [r for page, _ in client.list_pages(CONTACTS, ["email"]) for r in page]
    assert {r["id"] for r in listed} == _live_ids(hubspot)
    found = [r for page in client.search_pages(CONTACTS, "lastmodifieddate", 0, None, ["email"]) for r in page]
    assert {r["id"] for r in found} == _live_ids(hubspot)


def test_odd_answers_that_persist_fail_with_one_line(hubspot):
    client = api(hubspot)
    hubspot.faults(partial_rate=1.0)
    with pytest.raises(OddAnswer) as err:
        list(client.list_pages(CONTACTS, ["email"]))
    message = str(err.value)
    assert message == f"HubSpot answered 200 to GET {CONTACTS} without results (3 times in a row)"
    with pytest.raises(OddAnswer, match="without results"):
        list(client.search_pages(CONTACTS, "lastmodifieddate", 0, None, ["email"]))
    hubspot.faults(partial_rate=0.0, batch_error_rate=1.0)
    ids = sorted(_live_ids(hubspot))[:5]
    with pytest.raises(OddAnswer) as err:
        client.batch_read(CONTACTS, ids, ["email"])
    assert "answered 207" in str(err.value) and "error(s) it cannot skip (INTERNAL_ERROR" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(OddAnswer, match="it cannot skip"):
        client.associations("contacts", "companies", ids)


def test_gone_records_and_records_without_links_are_skipped_not_failed(hubspot):
    client = api(hubspot)
    live = sorted(_live_ids(hubspot))[:3]
    records = client.batch_read(CONTACTS, [*live, "99999999999"], ["email"])   # 207: one not found
    assert sorted(r["id"] for r in records) == live
    assert isinstance(client.associations("contacts", "companies", [*live, "99999999999"]), dict)
