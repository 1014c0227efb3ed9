"""Injected faults: 5xx answers, slow answers, connections dropped mid-body, and the odd answers
HubSpot gives now and then (a 200 whose `results` is missing, a batch read answered 207 with an
error that is not "not found"). Deterministic: the same settings and seed give the same sequence
of faults over the same sequence of requests."""
from __future__ import annotations

import random

DEFAULTS = {"error_rate_5xx": 0.0, "slow_ms": 0, "drop_connection_rate": 0.0, "seed": 0,
            "statuses": [500, 502, 503], "partial_rate": 0.0, "batch_error_rate": 0.0}
BATCH_ROUTES = ("batch_read", "v4_batch_read")


class Faults:
    def __init__(self):
        self.reset()

    def reset(self) -> dict:
        self.settings = dict(DEFAULTS)
        return self.configure({})

    def configure(self, values: dict) -> dict:
        """Change settings (unknown keys raise ValueError); the fault sequence restarts from seed."""
        unknown = set(values) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        self.settings.update(values)
        statuses = [int(s) for s in self.settings["statuses"]]
        if not statuses or any(s < 500 or s > 599 for s in statuses):
            raise ValueError("statuses must be 5xx codes")
        self.settings["statuses"] = statuses
        self.rng = random.Random(f"faults:{self.settings['seed']}")
        return dict(self.settings)

    @property
    def active(self) -> bool:
        s = self.settings
        return bool(s["error_rate_5xx"] or s["drop_connection_rate"] or s["slow_ms"] or s["partial_rate"]
                    or s["batch_error_rate"])

    def draw(self) -> tuple[str | None, int]:
        """("error", status) | ("drop", 0) | (None, 0) for the next request."""
        if not self.active:
            return None, 0
        roll = self.rng.random()
        s = self.settings
        if roll < float(s["error_rate_5xx"]):
            return "error", self.rng.choice(s["statuses"])
        if roll < float(s["error_rate_5xx"]) + float(s["drop_connection_rate"]):
            return "drop", 0
        return None, 0


    def mangle(self, route: str | None, status: int, payload) -> tuple[int, object]:
        """A successful answer made odd: `results` dropped (partial_rate), or a batch read's answer
        given an error it cannot skip (batch_error_rate)."""
        if not self.active or status not in (200, 207) or not isinstance(payload, dict) or "results" not in payload:
            return status, payload
        s = self.settings
        if float(s["partial_rate"]) and self.rng.random() < float(s["partial_rate"]):
            return 200, {k: v for k, v in payload.items() if k not in ("results", "paging")}
        if route in BATCH_ROUTES and float(s["batch_error_rate"]) and self.rng.random() < float(s["batch_error_rate"]):
            errors = list(payload.get("errors") or []) + [{
                "status": "error", "category": "INTERNAL_ERROR", "message": "Could not read this input, retry later",
                "context": {"id": ["?"]}}]
            return 207, {**payload, "numErrors": len(errors), "errors": errors}
        return status, payload


def error_page(status: int, correlation_id: str) -> tuple[str, bytes]:
    """The body of an injected 5xx: HubSpot's JSON for 500/503, an HTML gateway page for 502/504,
    as the edge proxy in front of the real API answers."""
    if status in (502, 504):
        html = (f"<html><head><title>{status} Bad Gateway</title></head><body>"
                f"<center><h1>{status} Bad Gateway</h1></center><hr><center>cloudflare</center>"
                "</body></html>")
        return "text/html", html.encode()
    import json
    category = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_ERROR"
    body = {"status": "error", "message": "internal error" if status == 500 else
            "The service is temporarily unavailable, please retry", "correlationId": correlation_id,
            "category": category}
    return "application/json;charset=utf-8", json.dumps(body).encode()
