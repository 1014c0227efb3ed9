"""HTTP to HubSpot: dlt's REST client with its retrying requests session, the budgets, paginators.

Errors leave this module as `SourceError` with one line naming the problem; they are raised
outside the `except` block that caught the `requests` exception, so no request object (whose
headers carry the token) travels in the exception chain, and the token is redacted from every
message.
"""
from __future__ import annotations

import logging
from typing import Iterator
from urllib.parse import quote_plus, urlencode, urlsplit

import requests
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator, JSONResponseCursorPaginator

from extract_load.config import Config
from extract_load.errors import SourceError, SourceUnavailable
from extract_load.sources.registry import settings as source_settings

from . import settings
from .budget import BudgetAdapter, RequestStats, make_budgets
from .config import HubSpotConfig, HubSpotEndpointConfig

log = logging.getLogger(__name__)


class UriTooLong(SourceError):
    """HubSpot answered 414: the request's URL (its property list) is longer than it accepts."""


class OddAnswer(SourceError):
    """A success status without the `results` a page must have, or a batch answer (207) with an
    error that is not "not found": taken as a glitch, retried, and never as the end of the data."""


class AuthenticationError(SourceUnavailable):
    """HubSpot refused the token (401) or its scopes (403): every request would fail the same way."""


class _Auth(BearerTokenAuth):
    """Bearer auth whose repr never shows the token."""

    def __repr__(self) -> str:
        return "BearerTokenAuth(token=***)"

    __str__ = __repr__


class SearchKeysetPaginator(BasePaginator):
    """Search pages by key, not by offset: each page asks for `hs_object_id > last id seen`.

    The search `after` offset breaks in two ways: it stops at 10,000 results, and a record leaving
    the result set while paging (archived, merged) shifts the offsets so a record is skipped. A
    query restarted from the last id, sorted by id, has neither problem: no page is ever deeper
    than `limit`, and thousands of records sharing one timestamp page like any others.
    """

    def __init__(self, after_id: str | None = None):
        super().__init__()
        self.last_id = after_id

    def init_request(self, request) -> None:
        _set_id_floor(request.json, self.last_id)

    def update_state(self, response, data=None) -> None:
        body = response.json()
        results = body.get("results") or []
        if results:
            self.last_id = str(results[-1]["id"])
        more = bool(((body.get("paging") or {}).get("next") or {}).get("after"))
        self._has_next_page = bool(results) and more

    def update_request(self, request) -> None:
        _set_id_floor(request.json, self.last_id)


def _set_id_floor(body: dict, after_id: str | None) -> None:
    filters = body["filterGroups"][0]["filters"]
    filters[:] = [f for f in filters if not (f["propertyName"] == settings.ID_PROPERTY and f["operator"] == "GT")]
    if after_id is not None:
        filters.append({"propertyName": settings.ID_PROPERTY, "operator": "GT", "value": str(after_id)})


def object_type(endpoint: HubSpotEndpointConfig) -> str:
    """The API's object type of an endpoint: the last segment of its path (contacts, 2-123456)."""
    return endpoint.path.rstrip("/").rsplit("/", 1)[-1]


def hubspot_config(config: Config) -> HubSpotConfig:
    """`data_sources.hubspot`, typed (ConfigError naming the key, or that it is not configured)."""
    return source_settings(config, settings.SOURCE)


class HubSpotAPI:
    """A HubSpot CRM client for one run: budgets, retries, counters and a property cache."""

    def __init__(self, config: Config | HubSpotConfig, max_attempts: int = settings.REQUEST_MAX_ATTEMPTS):
        self.config = hubspot_config(config) if isinstance(config, Config) else config
        self._token = self.config.api_key.get_secret_value()
        self.stats = RequestStats()
        self.general_budget, self.search_budget = make_budgets(self.config.rate_limit, self.config.search_rate_limit)
        client = Client(
            request_timeout=self.config.timeout_seconds,
            raise_for_status=False,
            request_max_attempts=max_attempts,
            request_backoff_factor=settings.REQUEST_BACKOFF_FACTOR,
            request_max_retry_delay=settings.REQUEST_MAX_RETRY_DELAY,
            respect_retry_after_header=True,
        )
        session = client.session
        session.trust_env = False if urlsplit(self.config.base_url).hostname in ("127.0.0.1", "localhost") else True
        adapter = BudgetAdapter(self.general_budget, self.search_budget, self.stats)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        self.client = RESTClient(base_url=self.config.base_url.rstrip("/"), auth=_Auth(token=self._token),
                                 session=session, data_selector="results")
        self._properties: dict[str, list[dict]] = {}
        self._url_properties_max = 10**6  # properties one GET URL may carry; a 414 halves it

    def __repr__(self) -> str:
        return f"HubSpotAPI(base_url={self.config.base_url!r})"

    # --- errors -----------------------------------------------------------------------------
    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def _call(self, what: str, fn, *args, **kwargs):
        """Run one request function; map every failure to a one-line SourceError."""
        message, error = None, SourceError
        try:
            return fn(*args, **kwargs)
        except SourceError:
            raise
        except requests.HTTPError as exc:
            message = self._http_message(what, exc.response)
            status = exc.response.status_code if exc.response is not None else 0
            error = AuthenticationError if status in (401, 403) else UriTooLong if status == 414 else SourceError
        except requests.Timeout:
            message = f"HubSpot did not answer {what} within {self.config.timeout_seconds:g} s (after retries)"
        except requests.ConnectionError as exc:
            message = f"HubSpot API unreachable at {self.config.base_url} ({_reason(exc)}) during {what}"
        except requests.RequestException as exc:
            message = f"HubSpot request failed during {what}: {type(exc).__name__}"
        raise error(self._redact(message))

    def _http_message(self, what: str, response) -> str:
        status = response.status_code if response is not None else 0
        detail = _error_detail(response)
        if status == 401:
            return f"HubSpot rejected the token (401 Unauthorized): check HUBSPOT_API_KEY ({detail})"
        if status == 403:
            return f"HubSpot token lacks a required scope (403 Forbidden) for {what}: {detail}"
        if status == 414:
            return f"HubSpot refused a too-long URL (414) for {what}"
        if status == 429:
            return f"HubSpot rate limit still exceeded after retries (429) during {what}: {detail}"
        return f"HubSpot answered {status} to {what}: {detail}"

    def check(self) -> None:
        """One cheap authenticated request; raises SourceError naming the problem."""
        path = self.config.tables[0].path if self.config.tables else "/crm/v3/objects/contacts"
        self._call(f"GET {path}", self._checked_get, path, {"limit": 1})

    def _checked_get(self, path: str, params: dict | None = None) -> dict:
        response = self.client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def _checked_post(self, path: str, body: dict, params: dict | None = None) -> tuple[int, dict]:
        response = self.client.post(path, json=body, params=params)
        response.raise_for_status()
        return response.status_code, response.json()

    # --- properties -------------------------------------------------------------------------
    def properties(self, obj_type: str) -> list[dict]:
        """Property definitions of an object type (name, type, ...), fetched once per client."""
        if obj_type not in self._properties:
            path = settings.PROPERTIES_PATH.format(object_type=obj_type)
            results = self._retried(f"GET {path}", lambda: self._results(
                f"GET {path}", 200, self._call(f"GET {path}", self._checked_get, path)))
            self._properties[obj_type] = [p for p in results if p.get("name")]
        return self._properties[obj_type]

    # --- list (full loads and the archived list) ------------------------------------------------
    def split_properties(self, path: str, names: list[str], extra: dict) -> tuple[list[str], list[str]]:
        """Properties that fit in a GET URL of `path` (with `extra` params), and the rest: within
        `max_url_length`, and within what the server accepted so far (a 414 halves it)."""
        base = len(self.config.base_url) + len(path) + len(urlencode({**extra, "after": "x" * 40})) + 20
        fit: list[str] = []
        length = base + len("&properties=")
        for name in names:
            add = len(quote_plus(name)) + 3   # the encoded name plus its encoded comma
            if length + add > self.config.max_url_length or len(fit) >= self._url_properties_max:
                break
            fit.append(name)
            length += add
        return fit, names[len(fit):]

    def _after_414(self, in_url: int, what: str) -> None:
        """Halve the properties a URL may carry (the rest go by batch read, a POST); one property
        per URL is the floor, none (only the record id) below it. UriTooLong when already none."""
        if in_url == 0:
            raise UriTooLong(f"HubSpot refused a too-long URL (414) for {what} even without properties: "
                             f"lower data_sources.hubspot.max_url_length")
        self._url_properties_max = in_url // 2
        log.warning("hubspot: %s answered 414 with %d properties in the URL; now at most %d per URL, the rest by "
                    "batch read", what, in_url, self._url_properties_max)

    def list_pages(self, path: str, properties: list[str], archived: bool = False,
                   after: str | None = None) -> Iterator[tuple[list[dict], str | None]]:
        """Pages of a list endpoint in id order: (records with every requested property, next cursor).

        Properties that do not fit in the URL are read for the page's ids with batch read (POST);
        a record gone between the two requests (archived or merged meanwhile) is left out: the
        archived list or the survivor brings it. A 414 shrinks the URL's property list and asks
        for the same page again; an answer without `results` is asked again, never taken as the end.
        """
        base = {"limit": min(self.config.page_size, settings.LIST_PAGE_MAX), "archived": str(archived).lower()}
        what = f"GET {path}"
        odd = 0
        while True:
            in_url, rest = self.split_properties(path, properties, base)
            params = {**base, "properties": ",".join(in_url) if in_url else settings.ID_PROPERTY}
            if after:
                params["after"] = after
            paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
            pages = self.client.paginate(path, params=params, paginator=paginator, data_selector="results")
            try:
                while True:
                    page = self._call(what, _next_page, pages)
                    if page is None:
                        return
                    body = page.response.json()
                    records = list(self._results(what, page.response.status_code, body))
                    odd = 0
                    if rest and records:
                        records = self._complete(path, records, rest, archived)
                    next_after = ((body.get("paging") or {}).get("next") or {}).get("after")
                    yield records, next_after
                    if not next_after:
                        return
                    after = next_after
            except UriTooLong:
                self._after_414(len(in_url), what)
            except OddAnswer as exc:
                odd += 1
                if odd >= settings.ODD_ANSWER_ATTEMPTS:
                    raise OddAnswer(f"{exc} ({odd} times in a row)") from None
                log.warning("hubspot: %s; asking for the page again", exc)

    def _complete(self, path: str, records: list[dict], names: list[str], archived: bool) -> list[dict]:
        extra = {r["id"]: r for r in self.batch_read(path, [r["id"] for r in records], names, archived)}
        complete = []
        for record in records:
            other = extra.get(record["id"])
            if other is None:
                continue
            record.setdefault("properties", {}).update(other.get("properties") or {})
            complete.append(record)
        return complete

    def batch_read(self, path: str, ids: list[str], properties: list[str], archived: bool = False) -> list[dict]:
        """Records by id with the given properties (POST: no URL limit); missing ids are skipped."""
        out: list[dict] = []
        target = f"{path.rstrip('/')}/batch/read"
        for start in range(0, len(ids), settings.BATCH_READ_MAX):
            chunk = ids[start:start + settings.BATCH_READ_MAX]
            body = {"inputs": [{"id": i} for i in chunk], "properties": properties or [settings.ID_PROPERTY]}
            out += self._post_results(target, body, {"archived": str(archived).lower()})
        return out

    def _post_results(self, target: str, body: dict, params: dict | None = None) -> list[dict]:
        """A POST's `results`, asked again while the answer is odd (see `OddAnswer`)."""
        what = f"POST {target}"
        return self._retried(what, lambda: self._results(what, *self._call(what, self._checked_post, target, body,
                                                                            params)))

    def _retried(self, what: str, read):
        for attempt in range(1, settings.ODD_ANSWER_ATTEMPTS + 1):
            try:
                return read()
            except OddAnswer as exc:
                if attempt == settings.ODD_ANSWER_ATTEMPTS:
                    raise OddAnswer(f"{exc} ({attempt} times in a row)") from None
                log.warning("hubspot: %s; asking again", exc)

    @staticmethod
    def _results(what: str, status: int, answer) -> list[dict]:
        """The answer's `results`; OddAnswer when it has none, or reports an error other than a
        record or association not found (what a batch read of gone records normally reports)."""
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list):
            raise OddAnswer(f"HubSpot answered {status} to {what} without results")
        errors = [e for e in answer.get("errors") or [] if (e or {}).get("category") not in settings.SKIPPED_ERRORS]
        if errors:
            first = errors[0]
            raise OddAnswer(f"HubSpot answered {status} to {what} with {len(errors)} error(s) it cannot skip "
                            f"({first.get('category')}: {' '.join(str(first.get('message', '')).split())[:200]})")
        return results

    # --- search (incremental loads) -------------------------------------------------------------
    def search_body(self, modified_property: str, start_ms: int | None, end_ms: int | None,
                    properties: list[str], limit: int | None = None) -> dict:
        filters = []
        if start_ms is not None:
            filters.append({"propertyName": modified_property, "operator": "GTE", "value": str(start_ms)})
        if end_ms is not None:
            filters.append({"propertyName": modified_property, "operator": "LTE", "value": str(end_ms)})
        return {"filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": settings.ID_PROPERTY, "direction": "ASCENDING"}],
                "properties": properties,
                "limit": limit or min(self.config.search_page_size, settings.SEARCH_PAGE_MAX)}

    def search_pages(self, path: str, modified_property: str, start_ms: int | None, end_ms: int | None,
                     properties: list[str], after_id: str | None = None) -> Iterator[list[dict]]:
        """Records modified in [start, end], id ascending, page by page from `after_id` (keyset);
        an answer without `results` is asked again from the last id, never taken as the end."""
        target = f"{path.rstrip('/')}/search"
        what = f"POST {target}"
        body = self.search_body(modified_property, start_ms, end_ms, properties)
        odd = 0
        while True:
            paginator = SearchKeysetPaginator(after_id)
            pages = self.client.paginate(target, method="POST", json=body, paginator=paginator, data_selector="results")
            try:
                while True:
                    page = self._call(what, _next_page, pages)
                    if page is None:
                        return
                    records = list(self._results(what, page.response.status_code, page.response.json()))
                    odd = 0
                    yield records
                    after_id = paginator.last_id
            except OddAnswer as exc:
                odd += 1
                if odd >= settings.ODD_ANSWER_ATTEMPTS:
                    raise OddAnswer(f"{exc} ({odd} times in a row)") from None
                log.warning("hubspot: %s; asking again from id %s", exc, after_id)

    def newest_modification(self, path: str, modified_property: str) -> str | None:
        """The newest last-modified value HubSpot's search knows for this object (None: no records).

        Taken as the upper bound of a run's window: it is the server's own clock, so a skewed
        local clock cannot open a gap.
        """
        target = f"{path.rstrip('/')}/search"
        body = {"filterGroups": [], "sorts": [{"propertyName": modified_property, "direction": "DESCENDING"}],
                "properties": [modified_property], "limit": 1}
        results = self._post_results(target, body)
        if not results:
            return None
        record = results[0]
        return (record.get("properties") or {}).get(modified_property) or record.get("updatedAt")

    # --- associations ---------------------------------------------------------------------------
    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[dict]]:
        """Every association of each id to `to_type`: {from id: [v4 entries]}, complete.

        v4 batch read (up to 1,000 ids a request) returns a first page per record; a record with
        more is read again on its own from the start, paging with the per-record endpoint.
        """
        out: dict[str, list[dict]] = {}
        path = settings.V4_BATCH_READ_PATH.format(from_type=from_type, to_type=to_type)
        for start in range(0, len(ids), settings.ASSOCIATION_BATCH_MAX):
            chunk = ids[start:start + settings.ASSOCIATION_BATCH_MAX]
            for result in self._post_results(path, {"inputs": [{"id": i} for i in chunk]}):
                from_id = str((result.get("from") or {}).get("id"))
                if (result.get("paging") or {}).get("next"):
                    out[from_id] = self.record_associations(from_type, from_id, to_type)
                else:
                    out.setdefault(from_id, []).extend(result.get("to") or [])
        return out

    def record_associations(self, from_type: str, record_id: str, to_type: str) -> list[dict]:
        path = settings.V4_RECORD_ASSOCIATIONS_PATH.format(from_type=from_type, record_id=record_id, to_type=to_type)
        paginator = JSONResponseCursorPaginator(cursor_path="paging.next.after", cursor_param="after")
        pages = self.client.paginate(path, params={"limit": settings.ASSOCIATION_PAGE_MAX}, paginator=paginator,
                                     data_selector="results")
        entries: list[dict] = []
        while True:
            page = self._call(f"GET {path}", _next_page, pages)
            if page is None:
                return entries
            entries += self._results(f"GET {path}", page.response.status_code, page.response.json())


def _next_page(pages):
    try:
        return next(pages)
    except StopIteration:
        return None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for hint in ("Name or service not known", "nodename nor servname", "Connection refused",
                 "timed out", "Temporary failure in name resolution", "Connection reset",
                 "RemoteDisconnected", "Connection aborted"):
        if hint in text:
            return hint.lower()
    return type(exc).__name__


def _error_detail(response) -> str:
    if response is None:
        return "no answer"
    try:
        body = response.json()
    except ValueError:
        return f"{response.reason or 'error'}".strip()
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("category") or "")
        category = body.get("category")
        text = f"{category}: {message}" if category and category not in message else message
        return " ".join(text.split())[:300]
    return str(response.reason)
