"""The HTTP side: routing, auth, rate limits, faults, the CRM endpoints and the admin API."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from . import changes
from .faults import Faults, error_page
from .limits import Limits, RateLimited, rate_limit_body
from .schema import ANCHOR_MS, iso, parse_time
from .seed import seed_store
from .store import (ASSOCIATION_TYPES, V4_BATCH_ASSOCIATION_CAP, ApiError, decode_cursor,
                    encode_cursor)

JSON = "application/json;charset=utf-8"

API_ROUTES = [
    ("GET", re.compile(r"^/crm/v3/objects/([^/]+)/?$"), "list"),
    ("POST", re.compile(r"^/crm/v3/objects/([^/]+)/search/?$"), "search"),
    ("POST", re.compile(r"^/crm/v3/objects/([^/]+)/batch/read/?$"), "batch_read"),
    ("GET", re.compile(r"^/crm/v3/objects/([^/]+)/([^/]+)/?$"), "get_one"),
    ("GET", re.compile(r"^/crm/v3/objects/([^/]+)/([^/]+)/associations/([^/]+)/?$"), "v3_associations"),
    ("POST", re.compile(r"^/crm/v4/associations/([^/]+)/([^/]+)/batch/read/?$"), "v4_batch_read"),
    ("GET", re.compile(r"^/crm/v4/objects/([^/]+)/([^/]+)/associations/([^/]+)/?$"), "v4_associations"),
    ("GET", re.compile(r"^/crm/v3/properties/([^/]+)/?$"), "properties"),
    ("GET", re.compile(r"^/crm/v3/properties/([^/]+)/([^/]+)/?$"), "property"),
]


def error_body(message: str, category: str, **extra) -> dict:
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()),
            "category": category, **extra}


def _list_param(query: dict, name: str) -> list[str]:
    return [p.strip() for value in query.get(name, []) for p in value.split(",") if p.strip()]


class App:
    """The stand-in's state: store, limits, faults, statistics, all behind one lock."""

    def __init__(self, seed: int = 42, scale: float = 1, contacts: int | None = None,
                 token: str = "sandbox-token", anchor: str | None = None, **limits):
        self.lock = threading.Lock()
        self.seed, self.scale, self.contacts, self.token = seed, scale, contacts, token
        self.anchor_ms = parse_time(anchor) if anchor else ANCHOR_MS
        self.limits = Limits(seed=seed, **limits)
        self.faults = Faults()
        self.reseed()

    def reseed(self) -> None:
        self.store = seed_store(self.seed, self.scale, self.contacts, self.anchor_ms)
        self.change_rng = random.Random(f"{self.seed}:changes")
        self.reset_stats()

    def reset_stats(self) -> dict:
        self.stats = {"requests": 0, "by_route": {}, "by_status": {}, "rate_limited": {},
                      "rate_limited_total": 0, "server_errors": 0, "dropped_connections": 0,
                      "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        return self.stats

    def count(self, key: str, sub: str | int | None = None) -> None:
        if sub is None:
            self.stats[key] += 1
        else:
            bucket = self.stats[key]
            bucket[str(sub)] = bucket.get(str(sub), 0) + 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HubSpotStandIn/1.0"

    @property
    def app(self) -> App:
        return self.server.app

    def log_message(self, fmt, *args):  # one terse line per request in the log
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} {fmt % args}\n")

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    # --- plumbing -----------------------------------------------------------------------------
    def _read_json(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"Invalid input JSON on line {getattr(exc, 'lineno', 1)}, "
                                f"column {getattr(exc, 'colno', 1)}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Invalid input JSON: expected an object")
        return body

    def _send(self, status: int, body, headers: dict | None = None, content_type: str = JSON,
              drop: bool = False) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if drop:
            self.end_headers()
            self.wfile.write(data[: max(1, len(data) // 2)])
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            return
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        try:
            split = urlsplit(self.path)
            if split.path.startswith("/_sandbox/"):
                self._admin(method, split.path, parse_qs(split.query, keep_blank_values=True))
            elif len(self.path) > self.app.limits.settings["max_url_length"]:
                with self.app.lock:
                    self.app.count("requests")
                    self.app.count("by_status", 414)
                self.close_connection = True
                self._send(414, b"414 Request-URI Too Large", content_type="text/plain")
            else:
                self._api(method, split.path, parse_qs(split.query, keep_blank_values=True))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # a bug in the stand-in: answer 500 and keep serving
            traceback.print_exc()
            self.close_connection = True
            try:
                self._send(500, error_body("stand-in failure", "INTERNAL_ERROR"))
            except OSError:
                pass

    # --- the CRM API --------------------------------------------------------------------------
    def _api(self, method: str, path: str, query: dict) -> None:
        app = self.app
        route, args = None, ()
        for verb, pattern, name in API_ROUTES:
            match = pattern.match(path)
            if match and verb == method:
                route, args = name, match.groups()
                break
        body = {}
        if method in ("POST", "PUT"):
            try:
                body = self._read_json()
            except ApiError as exc:
                route, args, body = "bad_json", (exc,), {}
        auth = self.headers.get("Authorization", "")
        with app.lock:
            app.count("requests")
            app.count("by_route", route or "unknown")
            if not auth.startswith("Bearer ") or auth[7:].strip() != app.token:
                app.count("by_status", 401)
                message = ("Authentication credentials not found. This API supports OAuth 2.0 "
                           "authentication and you can find more details at "
                           "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
                           if not auth else "The OAuth token used to make this call is invalid.")
                self._send(401, error_body(message, "INVALID_AUTHENTICATION"))
                return
            search = route == "search"
            try:
                rate_headers = app.limits.admit(search)
            except RateLimited as limited:
                app.count("rate_limited", limited.policy)
                app.count("rate_limited_total")
                app.count("by_status", 429)
                headers = dict(limited.headers)
                if limited.retry_after is not None:
                    headers["Retry-After"] = str(limited.retry_after)
                self._send(429, rate_limit_body(limited.policy, str(uuid.uuid4())), headers)
                return
            fault, fault_status = app.faults.draw()
            slow_ms = int(app.faults.settings["slow_ms"] or 0)
            if fault == "error":
                app.count("server_errors")
                app.count("by_status", fault_status)
            else:
                try:
                    if route is None:
                        raise ApiError(404 if not any(p.match(path) for _, p, _ in API_ROUTES) else 405,
                                       f"No route for {method} {path}", "OBJECT_NOT_FOUND")
                    if route == "bad_json":
                        raise args[0]
                    status, payload = getattr(self, f"_api_{route}")(query, body, *args)
                except ApiError as exc:
                    status = exc.status
                    payload = error_body(exc.message, exc.category, **exc.extra)
                status, payload = app.faults.mangle(route, status, payload)
                if fault == "drop":
                    app.count("dropped_connections")
                app.count("by_status", status)
        if slow_ms:
            time.sleep(slow_ms / 1000)
        if fault == "error":
            content_type, data = error_page(fault_status, str(uuid.uuid4()))
            self._send(fault_status, data, rate_headers, content_type=content_type)
            return
        self._send(status, payload, rate_headers, drop=fault == "drop")

    def _base(self) -> str:
        return f"http://{self.headers.get('Host', 'localhost')}"

    def _props(self, obj: str, requested: list[str] | None):
        return self.app.store.wanted_properties(obj, requested)

    def _api_list(self, query, body, obj):
        store = self.app.store
        obj = store.object_type(obj).name
        limit = _int_param(query, "limit", 10)
        if not 1 <= limit <= 100:
            raise ApiError(400, f"limit must be between 1 and 100, got {limit}")
        after = (query.get("after") or [None])[0] or None
        archived = (query.get("archived") or ["false"])[0].lower() == "true"
        props = self._props(obj, _list_param(query, "properties"))
        to_types = _association_types(store, obj, _list_param(query, "associations"))
        page, next_cursor = store.list_page(obj, limit, after, archived)
        results = []
        for record in page:
            item = store.render(obj, record, props)
            if to_types:
                embedded = store.embed_associations(obj, record, to_types, self._base())
                if embedded:
                    item["associations"] = embedded
            results.append(item)
        out = {"results": results}
        if next_cursor:
            params = {k: v[0] if len(v) == 1 else ",".join(v) for k, v in query.items()}
            params["after"] = next_cursor
            out["paging"] = {"next": {"after": next_cursor,
                                      "link": f"{self._base()}/crm/v3/objects/{obj}?{urlencode(params)}"}}
        return 200, out

    def _api_get_one(self, query, body, obj, record_id):
        store = self.app.store
        obj = store.object_type(obj).name
        archived = (query.get("archived") or ["false"])[0].lower() == "true"
        id_property = (query.get("idProperty") or [None])[0]
        record = self._find(obj, record_id, id_property, archived)
        if record is None:
            raise ApiError(404, "Object not found.  objectId are usually numeric.",
                           "OBJECT_NOT_FOUND", context={"id": [record_id]})
        item = store.render(obj, record, self._props(obj, _list_param(query, "properties")))
        to_types = _association_types(store, obj, _list_param(query, "associations"))
        if to_types:
            embedded = store.embed_associations(obj, record, to_types, self._base())
            if embedded:
                item["associations"] = embedded
        return 200, item

    def _find(self, obj: str, value: str, id_property: str | None, archived: bool):
        store = self.app.store
        if id_property and id_property != "hs_object_id":
            if id_property not in store.types[obj].properties:
                raise ApiError(400, f"Unknown idProperty {id_property}")
            wanted = str(value).strip().lower()
            for record_id in store.order[obj]:
                record = store.records[obj][record_id]
                if record.visible and (record.props.get(id_property) or "").strip().lower() == wanted:
                    return record
            return None
        try:
            record = store.resolve(obj, int(value))
        except ValueError:
            return None
        if record is None or record.archived != archived:
            return None
        return record

    def _api_batch_read(self, query, body, obj):
        store = self.app.store
        obj = store.object_type(obj).name
        started = iso(int(time.time() * 1000))
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "inputs is required")
        if len(inputs) > 100:
            raise ApiError(400, f"Batch input size {len(inputs)} exceeds the limit of 100",
                           subCategory="crm.batch.TOO_MANY_INPUTS")
        ids = [str((i or {}).get("id", "")) for i in inputs]
        if len(set(ids)) != len(ids):
            raise ApiError(400, "Duplicate IDs found in batch input")
        archived = str(query.get("archived", [body.get("archived", "false")])[0]).lower() == "true"
        props = self._props(obj, body.get("properties") or [])
        results, missing = [], []
        for value in ids:
            record = self._find(obj, value, body.get("idProperty"), archived)
            if record is None:
                missing.append(value)
            else:
                results.append(store.render(obj, record, props))
        out = {"status": "COMPLETE", "results": results, "startedAt": started,
               "completedAt": iso(int(time.time() * 1000))}
        if missing:
            out["numErrors"] = 1
            out["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                              "message": f"Could not get some {obj[:-1].upper()} objects, they may "
                                         "be deleted or not exist. Check that ids are valid.",
                              "context": {"ids": missing}}]
            return 207, out
        return 200, out

    def _api_search(self, query, body, obj):
        app = self.app
        obj = app.store.object_type(obj).name
        total, page, next_offset = app.store.search(
            obj, body, app.limits.settings["indexing_lag_seconds"], time.time())
        props = self._props(obj, body.get("properties") or [])
        out = {"total": total, "results": [app.store.render(obj, r, props) for r in page]}
        if next_offset is not None:
            out["paging"] = {"next": {"after": str(next_offset)}}
        return 200, out

    def _pair(self, from_type: str, to_type: str) -> tuple[str, str]:
        store = self.app.store
        pair = (store.object_type(from_type).name, store.object_type(to_type).name)
        if pair not in ASSOCIATION_TYPES:
            raise ApiError(400, f"No association between {pair[0]} and {pair[1]} in this portal")
        return pair

    def _api_v4_batch_read(self, query, body, from_type, to_type):
        store = self.app.store
        from_type, to_type = self._pair(from_type, to_type)
        started = iso(int(time.time() * 1000))
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(400, "inputs is required")
        if len(inputs) > 1000:
            raise ApiError(400, f"Batch input size {len(inputs)} exceeds the limit of 1000")
        results, errors = [], []
        for item in inputs:
            value = str((item or {}).get("id", ""))
            targets = []
            if value.isdigit():
                record = store.records[from_type].get(int(value))
                if record is not None and record.visible:
                    targets = store.associated(from_type, record.id, to_type)
            if not targets:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "context": {"fromObjectId": [value]},
                               "message": f"No {to_type[:-1]} is associated with "
                                          f"{from_type[:-1]} {value}."})
                continue
            result = {"from": {"id": value},
                      "to": [{"toObjectId": tid, "associationTypes": store.v4_types(from_type, to_type, p)}
                             for tid, p in targets[:V4_BATCH_ASSOCIATION_CAP]]}
            if len(targets) > V4_BATCH_ASSOCIATION_CAP:
                after = encode_cursor(V4_BATCH_ASSOCIATION_CAP)
                result["paging"] = {"next": {
                    "after": after,
                    "link": f"{self._base()}/crm/v4/objects/{from_type}/{value}/associations/{to_type}?after={after}"}}
            results.append(result)
        out = {"status": "COMPLETE", "results": results, "startedAt": started,
               "completedAt": iso(int(time.time() * 1000))}
        if errors:
            out["numErrors"], out["errors"] = len(errors), errors
            return 207, out
        return 200, out

    def _object_associations(self, query, from_type, record_id, to_type, default_limit):
        store = self.app.store
        from_type, to_type = self._pair(from_type, to_type)
        limit = _int_param(query, "limit", default_limit)
        if not 1 <= limit <= 500:
            raise ApiError(400, "limit must be between 1 and 500")
        after = (query.get("after") or [None])[0]
        offset = decode_cursor(after) if after else 0
        record = store.resolve(from_type, int(record_id)) if record_id.isdigit() else None
        if record is None or record.archived:
            raise ApiError(404, "Object not found.", "OBJECT_NOT_FOUND", context={"id": [record_id]})
        return store, from_type, to_type, record, limit, offset

    def _api_v3_associations(self, query, body, from_type, record_id, to_type):
        store, from_type, to_type, record, limit, offset = self._object_associations(
            query, from_type, record_id, to_type, 500)
        entries = store.association_entries(from_type, record.id, to_type)
        out = {"results": entries[offset:offset + limit]}
        if offset + limit < len(entries):
            after = encode_cursor(offset + limit)
            out["paging"] = {"next": {"after": after, "link": f"{self._base()}/crm/v3/objects/"
                                      f"{from_type}/{record.id}/associations/{to_type}?after={after}"}}
        return 200, out

    def _api_v4_associations(self, query, body, from_type, record_id, to_type):
        store, from_type, to_type, record, limit, offset = self._object_associations(
            query, from_type, record_id, to_type, 500)
        targets = store.associated(from_type, record.id, to_type)
        out = {"results": [{"toObjectId": tid, "associationTypes": store.v4_types(from_type, to_type, p)}
                           for tid, p in targets[offset:offset + limit]]}
        if offset + limit < len(targets):
            after = encode_cursor(offset + limit)
            out["paging"] = {"next": {"after": after, "link": f"{self._base()}/crm/v4/objects/"
                                      f"{from_type}/{record.id}/associations/{to_type}?after={after}"}}
        return 200, out

    def _api_properties(self, query, body, obj):
        otype = self.app.store.object_type(obj)
        return 200, {"results": [p.to_api(otype.name, i) for i, p in enumerate(otype.properties.values())]}

    def _api_property(self, query, body, obj, name):
        otype = self.app.store.object_type(obj)
        if name not in otype.properties:
            raise ApiError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return 200, otype.properties[name].to_api(otype.name, list(otype.properties).index(name))

    # --- the admin API (stand-in only; no token) ---------------------------------------------
    def _admin(self, method: str, path: str, query: dict) -> None:
        app = self.app
        try:
            body = self._read_json() if method == "POST" else {}
            with app.lock:
                status, out = 200, self._admin_route(method, path.rstrip("/"), query, body)
        except ApiError as exc:
            status, out = exc.status, error_body(exc.message, exc.category)
        except (ValueError, TypeError, KeyError) as exc:
            status, out = 400, error_body(str(exc), "VALIDATION_ERROR")
        self._send(status, out)

    def _admin_route(self, method: str, path: str, query: dict, body: dict):
        app, store = self.app, self.app.store
        key = (method, path)
        if key == ("GET", "/_sandbox/health"):
            return {"status": "ok", "seed": app.seed, "scale": app.scale, "contacts": app.contacts,
                    "now": iso(store.now), "pid": os.getpid()}
        if key == ("POST", "/_sandbox/advance"):
            return changes.advance(store, app.change_rng, body)
        if key == ("POST", "/_sandbox/properties"):
            return changes.add_property(store, app.change_rng, body)
        if key == ("GET", "/_sandbox/faults"):
            return dict(app.faults.settings)
        if key == ("POST", "/_sandbox/faults"):
            if body.pop("reset", False) or not body:
                app.faults.reset()
            return app.faults.configure(body)
        if key == ("GET", "/_sandbox/limits"):
            return dict(app.limits.settings)
        if key == ("POST", "/_sandbox/limits"):
            if body.pop("reset", False):
                app.limits.reset()
            return app.limits.configure(body)
        if key == ("GET", "/_sandbox/state"):
            obj = store.object_type((query.get("object") or ["contacts"])[0]).name
            nulls = (query.get("nulls") or ["false"])[0].lower() == "true"
            return store.state(obj, _list_param(query, "properties") or None, nulls)
        if key == ("GET", "/_sandbox/manifest"):
            return store.manifest()
        if key == ("GET", "/_sandbox/stats"):
            return app.stats
        if key == ("POST", "/_sandbox/reset-stats"):
            return app.reset_stats()
        if key == ("POST", "/_sandbox/reset"):
            app.reseed()
            app.faults.reset()
            app.limits.reset()
            return {"status": "reset", "now": iso(app.store.now)}
        raise ApiError(404, f"No admin route {method} {path}", "OBJECT_NOT_FOUND")


def _int_param(query: dict, name: str, default: int) -> int:
    value = (query.get(name) or [None])[0]
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {value!r}") from None


def _association_types(store, obj: str, names: list[str]) -> list[str]:
    out = []
    for name in names:
        try:
            to = store.object_type(name).name
        except ApiError:
            continue   # HubSpot ignores association types it does not know
        if (obj, to) in ASSOCIATION_TYPES and to not in out:
            out.append(to)
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def serve(host: str = "127.0.0.1", port: int = 8765, **app_options) -> None:
    """Seed the data and serve until SIGTERM/SIGINT."""
    app = App(**app_options)
    server = Server((host, port), Handler)
    server.app = app

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"hubspot stand-in listening on http://{host}:{server.server_address[1]} "
          f"(seed={app.seed} scale={app.scale} contacts={app.contacts})", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
