"""Rate limits as HubSpot applies them to a private app: a rolling ten-second budget, a daily
budget, and the search endpoints' own per-second limit (whose answers carry no rate headers)."""
from __future__ import annotations

import math
import random
import time
from collections import deque

DEFAULTS = {
    "ten_second_budget": 100,
    "daily_budget": 250_000,
    "search_per_second": 5,
    "indexing_lag_seconds": 0.0,
    "omit_retry_after_ratio": 0.5,
    "max_url_length": 8000,
}
GROUP_NAME = "publicapi:private-app-api-calls"


class RateLimited(Exception):
    """A 429: policy name, seconds to wait (None: no Retry-After header), headers to send."""

    def __init__(self, policy: str, retry_after: int | None, headers: dict):
        super().__init__(policy)
        self.policy, self.retry_after, self.headers = policy, retry_after, headers


class Limits:
    def __init__(self, seed: int = 0, **overrides):
        self.settings = dict(DEFAULTS)
        self._seed = seed
        self.configure(overrides)
        self.startup = dict(self.settings)

    def configure(self, values: dict) -> dict:
        """Change settings (unknown keys raise ValueError); counters start afresh."""
        unknown = set(values) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown limit settings: {sorted(unknown)}")
        for key, value in values.items():
            kind = type(DEFAULTS[key])
            self.settings[key] = kind(value) if value is not None else DEFAULTS[key]
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.daily_used = 0
        self.rng = random.Random(f"{self._seed}:retry-after")
        return dict(self.settings)

    def reset(self) -> dict:
        """Back to the settings the server started with; counters start afresh."""
        self.settings = dict(self.startup)
        return self.configure({})

    def headers(self) -> dict:
        s = self.settings
        return {
            "X-HubSpot-RateLimit-Max": str(s["ten_second_budget"]),
            "X-HubSpot-RateLimit-Remaining": str(max(0, s["ten_second_budget"] - len(self.window))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": str(s["daily_budget"]),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, s["daily_budget"] - self.daily_used)),
        }

    def _retry_after(self, seconds: float) -> int | None:
        if self.rng.random() < self.settings["omit_retry_after_ratio"]:
            return None
        return max(1, math.ceil(seconds))

    def admit(self, search: bool) -> dict:
        """Count one request; return the rate headers to send, or raise RateLimited."""
        now = time.monotonic()
        s = self.settings
        while self.window and now - self.window[0] >= 10.0:
            self.window.popleft()
        while self.search_window and now - self.search_window[0] >= 1.0:
            self.search_window.popleft()
        if self.daily_used >= s["daily_budget"]:
            raise RateLimited("DAILY", self._retry_after(3600), {} if search else self.headers())
        if search:
            if len(self.search_window) >= s["search_per_second"]:
                raise RateLimited("SECONDLY", self._retry_after(1.0 - (now - self.search_window[0])), {})
            self.search_window.append(now)
            self.daily_used += 1
            return {}
        if len(self.window) >= s["ten_second_budget"]:
            raise RateLimited("TEN_SECONDLY_ROLLING",
                              self._retry_after(10.0 - (now - self.window[0])), self.headers())
        self.window.append(now)
        self.daily_used += 1
        return self.headers()


def rate_limit_body(policy: str, correlation_id: str) -> dict:
    names = {"TEN_SECONDLY_ROLLING": "ten_secondly_rolling", "SECONDLY": "secondly", "DAILY": "daily"}
    return {"status": "error", "message": f"You have reached your {names[policy]} limit.",
            "errorType": "RATE_LIMIT", "correlationId": correlation_id, "policyName": policy,
            "groupName": "publicapi:search" if policy == "SECONDLY" else GROUP_NAME,
            "category": "RATE_LIMITS"}
