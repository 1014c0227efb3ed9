"""Client-side request budgets, so a normal run never draws a 429.

HubSpot limits a private app to `rate_limit` requests per rolling 10 seconds (shared with every
other app of the account using the same limit) and the search endpoints to a few requests per
second. A `RateBudget` keeps the send times of the last interval and waits before a request that
would exceed it. The `X-HubSpot-RateLimit-*` headers of each answer correct it: a smaller `Max`
lowers the limit, and a `Remaining` below our own count means someone else spends the same budget,
so the budget counts their requests too. A 429 nonetheless (search answers carry no headers)
halves the pace for a while and fills the window, so the retry and what follows slow down.

`BudgetAdapter` is the requests transport adapter that applies the budgets to every attempt,
retries included, and counts requests, 429s and seconds waited.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from requests.adapters import HTTPAdapter

from extract_load.errors import SourceUnavailable

from .settings import BUDGET_PAD_SECONDS, GENERAL_INTERVAL_SECONDS, SEARCH_INTERVAL_SECONDS

log = logging.getLogger(__name__)


class DailyLimitReached(SourceUnavailable):
    """HubSpot's daily request limit is spent: retrying before midnight (account time) is pointless."""


class RateBudget:
    """At most `limit` requests per `interval` seconds, adapted from the server's answers."""

    def __init__(self, name: str, limit: int, interval: float, pad: float = BUDGET_PAD_SECONDS,
                 sleep=time.sleep, clock=time.monotonic):
        self.name = name
        self.configured = max(1, int(limit))
        self.limit = self.configured
        self.interval = interval
        self.pad = pad
        self.pace = 1.0                      # < 1 after a 429, back to 1 as answers succeed
        self.sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._sleep, self._clock = sleep, clock

    @property
    def allowed(self) -> int:
        """Requests allowed per interval now: the limit less a small safety margin, paced."""
        margin = max(1, self.limit // 20) if self.limit > 2 else 0
        return max(1, int((self.limit - margin) * self.pace))

    def _expire(self, now: float) -> None:
        horizon = self.interval + self.pad
        while self.sent and now - self.sent[0] >= horizon:
            self.sent.popleft()

    def acquire(self) -> float:
        """Wait until one more request fits; record it; return the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                self._expire(now)
                if len(self.sent) < self.allowed:
                    self.sent.append(now)
                    return waited
                delay = max(0.01, self.sent[0] + self.interval + self.pad - now)
                self._sleep(delay)
                waited += delay

    def observe(self, headers) -> None:
        """Adopt the server's view from X-HubSpot-RateLimit-Max / -Remaining, when present."""
        maximum = _int(headers.get("X-HubSpot-RateLimit-Max"))
        remaining = _int(headers.get("X-HubSpot-RateLimit-Remaining"))
        with self._lock:
            self.pace = min(1.0, self.pace + 0.02)
            if maximum:
                self.limit = min(self.configured, maximum)
            if maximum and remaining is not None:
                now = self._clock()
                self._expire(now)
                used_elsewhere = (maximum - remaining) - len(self.sent)
                for _ in range(max(0, used_elsewhere)):
                    self.sent.append(now)

    def penalize(self) -> None:
        """A 429: halve the pace and treat the window as full from now."""
        with self._lock:
            self.pace = max(0.1, self.pace / 2)
            now = self._clock()
            self._expire(now)
            while len(self.sent) < self.allowed:
                self.sent.append(now)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class RequestStats:
    """Counters of one client; snapshot/diff them per object."""

    requests: int = 0
    responses_429: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> tuple[int, int, float]:
        return self.requests, self.responses_429, self.wait_seconds


class BudgetAdapter(HTTPAdapter):
    """Transport adapter: every attempt (retries too) passes the budget; answers are counted."""

    def __init__(self, general: RateBudget, search: RateBudget, stats: RequestStats, **kwargs):
        super().__init__(**kwargs)
        self.general, self.search, self.stats = general, search, stats
        self._local = threading.local()

    def _budget(self, request) -> RateBudget:
        path = request.path_url.split("?", 1)[0].rstrip("/")
        return self.search if request.method == "POST" and path.endswith("/search") else self.general

    def send(self, request, *args, **kwargs):
        budget = self._budget(request)
        waited = budget.acquire()
        backoff_started = getattr(self._local, "failed_at", None)
        if backoff_started is not None:   # the time dlt's retry slept since the failed attempt
            waited += max(0.0, time.monotonic() - backoff_started - waited)
            self._local.failed_at = None
        with self.stats._lock:
            self.stats.requests += 1
            self.stats.wait_seconds += waited
        try:
            response = super().send(request, *args, **kwargs)
        except Exception:
            self._local.failed_at = time.monotonic()
            with self.stats._lock:
                self.stats.retries += 1
            raise
        if response.status_code == 429:
            policy = _policy(response)
            with self.stats._lock:
                self.stats.responses_429 += 1
            if policy == "DAILY":
                raise DailyLimitReached("HubSpot daily API limit reached (429 DAILY): the run stops; "
                                        "it resumes from its checkpoint on the next run")
            budget.penalize()
            log.warning("HubSpot 429 (%s) on %s %s: slowing down", policy or "rate limit",
                        request.method, request.path_url.split("?", 1)[0])
            self._local.failed_at = time.monotonic()
        elif response.status_code >= 500:
            self._local.failed_at = time.monotonic()
        else:
            budget.observe(response.headers)
        return response


def _policy(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("policyName") if isinstance(body, dict) else None


def make_budgets(rate_limit: int, search_rate_limit: int) -> tuple[RateBudget, RateBudget]:
    return (RateBudget("general", rate_limit, GENERAL_INTERVAL_SECONDS),
            RateBudget("search", search_rate_limit, SEARCH_INTERVAL_SECONDS))
