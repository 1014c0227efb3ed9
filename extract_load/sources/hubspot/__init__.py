"""HubSpot CRM: the objects catalogued under `hubspot:` (config/catalog.yaml), their properties and
associations, kept up to date incrementally.

Public surface:
  SOURCE                     the source the registry knows as `hubspot`
  check_connection(config)   "HubSpot API connection successful" or SourceError
  HubSpotAPI(config)         the HTTP client
  hubspot_source(window)     the dlt source of one checkpoint's records

What lands where and how it is kept up to date: README.md beside this file.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Iterator

import dlt

from extract_load.config import Config
from extract_load.errors import PipelineError, SourceError
from extract_load.sources.base import ExtractStats, Landed, Segment, TableInfo
from extract_load.sources.registry import settings as source_settings

from . import settings
from .budget import DailyLimitReached
from .config import HubSpotConfig, HubSpotEndpointConfig
from .helpers import AuthenticationError, HubSpotAPI
from .mapping import association_columns
from .sync import ObjectSync, Window, association_table

__all__ = ["SOURCE", "HubSpotSource", "HubSpotAPI", "HubSpotConfig", "HubSpotEndpointConfig", "check_connection",
           "hubspot_source", "AuthenticationError", "DailyLimitReached"]

CONNECTION_OK = "HubSpot API connection successful"
CONTACTS = "contacts"  # the object whose records are people: `forget` erases by its ids and emails


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_source(window: Window) -> Any:
    """One checkpoint's worth of one object: its records and association rows, typed by hints."""
    return crm_object(window).with_name(window.sync.name)


@dlt.resource(write_disposition="append", max_table_nesting=0)
def crm_object(window: Window) -> Iterator[Any]:
    """Rows of `<object>` and `<object>_to_<type>`; every item carries its table's column hints."""
    failure = None
    try:
        yield from window.items()
    except PipelineError:
        raise
    except Exception as exc:  # dlt would wrap it past recognition: name it in one line
        first = str(exc).splitlines()[0] if str(exc) else ""
        failure = f"hubspot.{window.sync.name}: extraction failed: {type(exc).__name__}: {first}"[:500]
    if failure:
        raise SourceError(window.sync.api._redact(failure))


@dlt.source(name="hubspot_links", max_table_nesting=0)
def links_source(table: str, rows: list[dict]) -> Any:
    """Association rows of one table re-read outside their object's run (links to records gone)."""
    hints = dlt.mark.make_hints(table_name=table, columns=association_columns())
    return dlt.resource([dlt.mark.with_hints(rows, hints, create_table_variant=True)], name=table,
                        write_disposition="append", max_table_nesting=0)


class HubSpotExtractor(AbstractContextManager):
    """One run's client (budgets and counters shared by every object of the run)."""

    # an object's tombstones read bronze through `Landed`: the previous segment must be in it
    overlap_commits = False

    def __init__(self, hubspot: HubSpotConfig, landed: Landed):
        self.hubspot, self.landed = hubspot, landed
        self.api = HubSpotAPI(hubspot)

    def extract(self, table: str, stored: dict | None, stats: ExtractStats, full_refresh: bool) -> Iterator[Segment]:
        sync = ObjectSync(self.api, self.hubspot.endpoint(table), stats, self.landed, full_refresh)
        return sync.segments(None if full_refresh else stored)

    def redact(self, text: str) -> str:
        return self.api._redact(text)

    def close(self) -> None:
        return None

    def __exit__(self, *exc) -> None:
        self.close()


class HubSpotSource:
    """The HubSpot source: CRM objects by their v3 paths, with v4 associations."""

    name = settings.SOURCE
    config_model = HubSpotConfig

    def check(self, hubspot: HubSpotConfig) -> str:
        """`HubSpot API connection successful`, or SourceError naming the problem in one line
        (token rejected (401), missing scope (403), host unreachable)."""
        HubSpotAPI(hubspot, max_attempts=2).check()
        return CONNECTION_OK

    def extractor(self, hubspot: HubSpotConfig, landed: Landed) -> HubSpotExtractor:
        return HubSpotExtractor(hubspot, landed)

    def table_info(self, hubspot: HubSpotConfig, table: str) -> TableInfo:
        endpoint = hubspot.endpoint(table)
        people: dict[str, dict] = {}
        if endpoint.name == CONTACTS:
            people[endpoint.name] = {"id": "contact_id", "email": "email"}
            people[f"{endpoint.name}__rejects"] = {"id": "contact_id"}
            for to_type in endpoint.associations:
                people[association_table(endpoint.name, to_type)] = {"from_id": "contact_id"}
        for to_type in endpoint.associations:
            if to_type == CONTACTS:
                people[association_table(endpoint.name, to_type)] = {"to_id": "contact_id"}
        return TableInfo(time_column="updated_at", person_columns=people)


SOURCE = HubSpotSource()


def check_connection(config: Config) -> str:
    """`HubSpot API connection successful`, or SourceError naming the problem in one line."""
    return SOURCE.check(source_settings(config, settings.SOURCE))
