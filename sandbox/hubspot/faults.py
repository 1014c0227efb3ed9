"""Injected faults: 5xx answers, slow answers, connections dropped mid-body. Deterministic:
the same settings and seed give the same sequence of faults over the same sequence of requests."""
from __future__ import annotations

import random

DEFAULTS = {"error_rate_5xx": 0.0, "slow_ms": 0, "drop_connection_rate": 0.0, "seed": 0,
            "statuses": [500, 502, 503]}


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
        return bool(s["error_rate_5xx"] or s["drop_connection_rate"] or s["slow_ms"])

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
