"""Alerts: what went wrong, on which table, in which run, sent to the configured channels.

Four families, per the integration guide: data-quality failures (`from_dq_results`), API
connection problems and failed extractions, missing or empty extractions, and performance
degradation (`evaluate_runs`). `send` delivers them to the log, a Slack-compatible webhook
(`POST {"text": ...}`) and email over SMTP. Every text goes through `scrub` first: an alert names
the table, the check and the run, never a credential or a configuration value.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import smtplib
import statistics
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from typing import Any, Iterable, Mapping, Sequence

from pydantic import BaseModel, SecretStr

from extract_load.config import Config

log = logging.getLogger("extract_load.alerts")

ERROR, WARNING = "error", "warning"

# Failures that mean "we could not talk to the source", as opposed to "the data was wrong".
_CONNECTION = re.compile(
    r"connection (?:refused|reset|aborted|error)|could not connect|failed to establish|max retries exceeded|"
    r"timed? ?out|name or service not known|temporary failure in name resolution|no route to host|"
    r"network is unreachable|remote end closed|ssl(?:error)?|\b40[13]\b|unauthori[sz]ed|forbidden|"
    r"\b5\d\d\b.*server error|server error.*\b5\d\d\b|connectionerror|interfaceerror|operationalerror",
    re.IGNORECASE)

_SECRET_PATTERNS = [
    # key=value / key: value for anything named like a credential
    (re.compile(r"(?i)\b((?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|token|password|passwd|pwd|"
                r"authorization|private[_-]?app[_-]?token|hapikey|client[_-]?secret)\"?\s*[=:]\s*)"
                r"(?:bearer\s+|basic\s+)?(\"[^\"]*\"|'[^']*'|[^\s,;&)}\]]+)"), r"\1***"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 ***"),
    (re.compile(r"(?i)([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1***:***@"),  # user:pass@ in URLs
    (re.compile(r"https://hooks\.slack\.com/\S+"), "https://hooks.slack.com/***"),
    (re.compile(r"\bpat-[a-z0-9]{2,4}-[A-Za-z0-9-]{8,}"), "***"),  # HubSpot private-app tokens
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), "***"),  # AWS access key ids
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), "***"),  # JWTs
    # long opaque strings mixing letters and digits (hex or base64 keys); names with _ are kept
    (re.compile(r"(?<![A-Za-z0-9+/_])(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[A-Za-z])[A-Za-z0-9+/]{32,}={0,2}"), "***"),
]


@dataclass(frozen=True)
class Alert:
    """One thing to tell a human: `kind` (dq_failure, api_connection, extraction_failed,
    empty_extraction, missing_extraction, slow_run, rejected_rows, task_failure), `table`
    (`source.object` or a dbt node), `check` (the rule or test), `run` (load id / dbt invocation /
    Airflow run) and a scrubbed one-line `detail`."""

    kind: str
    severity: str
    table: str
    check: str
    run: str
    detail: str = ""
    at: datetime | None = None

    @property
    def title(self) -> str:
        return f"[ELT {self.severity.upper()}] {self.kind} on {self.table}"

    def text(self) -> str:
        """The message every channel sends: one line, already scrubbed."""
        parts = [self.title, f"check: {self.check}", f"run: {self.run}"]
        if self.detail:
            parts.append(self.detail)
        return " | ".join(parts)


# --------------------------------------------------------------------------- scrubbing


def _secret_values(config: Config | None) -> list[str]:
    """Every SecretStr in the configuration, so a driver message echoing one is masked too."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, SecretStr):
            value = node.get_secret_value()
            if value and len(value) >= 4:
                found.append(value)
        elif isinstance(node, BaseModel):
            for name in type(node).model_fields:
                walk(getattr(node, name))
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    if config is not None:
        walk(config)
        walk(_source_settings(config))
    return sorted(set(found), key=len, reverse=True)


def _source_settings(config: Config) -> list[BaseModel]:
    """Each configured source's typed settings (its secrets are SecretStr there, not in the raw
    section); a source whose settings do not validate holds no usable secret to mask."""
    from extract_load.errors import ConfigError
    from extract_load.sources import registry

    typed = []
    for name in config.configured_sources():
        try:
            typed.append(registry.settings(config, name))
        except ConfigError:
            continue
    return typed


def scrub(text: str | None, config: Config | None = None, limit: int = 500) -> str:
    """`text` on one line, without configured secrets or anything shaped like a credential."""
    if not text:
        return ""
    out = " ".join(str(text).split())
    for value in _secret_values(config):
        out = out.replace(value, "***")
    for pattern, replacement in _SECRET_PATTERNS:
        out = pattern.sub(replacement, out)
    return out if len(out) <= limit else out[: limit - 3] + "..."


# --------------------------------------------------------------------------- run alerts


def _get(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def _table(row: Any) -> str:
    return f"{_get(row, 'source')}.{_get(row, 'object')}"


def is_connection_error(error: str | None) -> bool:
    """True when a run's error reads as the source being unreachable or refusing us."""
    return bool(error) and bool(_CONNECTION.search(error))


def evaluate_runs(config: Config, runs: Sequence[Any], history: Iterable[Any] = (),
                  expected: Iterable[tuple[str, str]] | None = None) -> list[Alert]:
    """Alerts for one ingest's runs (RunMetrics or `ops.ingest_runs` rows).

    `history` is earlier runs of the same tables, any order (rows of the current `runs` are
    ignored); `expected` the (source, object) pairs the ingest was asked for, so a table with no
    run at all is reported missing. At most one alert per table and family.
    """
    settings = config.alerts
    current_ids = {_get(r, "run_id") for r in runs}
    past: dict[str, list[Any]] = {}
    for row in history:
        if _get(row, "run_id") in current_ids:
            continue
        past.setdefault(_table(row), []).append(row)
    for rows in past.values():
        rows.sort(key=lambda r: _get(r, "started_at") or datetime.min, reverse=True)

    alerts: list[Alert] = []
    seen: set[str] = set()
    for run in runs:
        table, load_id, status = _table(run), _get(run, "load_id") or "", _get(run, "status")
        seen.add(table)
        earlier = past.get(table, [])
        if status == "failed":
            error = scrub(_get(run, "error"), config)
            if is_connection_error(_get(run, "error")):
                alerts.append(Alert("api_connection", ERROR, table, "source reachable", load_id,
                                    f"could not reach the source: {error}"))
            else:
                alerts.append(Alert("extraction_failed", ERROR, table, "run succeeds", load_id, error))
            continue
        if status == "empty":
            first_or_full = _get(run, "cursor_before") in (None, "") or _get(run, "mode") == "full"
            streak = 1
            for row in earlier:
                if _get(row, "status") != "empty":
                    break
                streak += 1
            if first_or_full or streak >= settings.empty_runs:
                why = ("a full extraction returned no rows" if first_or_full
                       else f"{streak} consecutive runs extracted no rows")
                alerts.append(Alert("empty_extraction", WARNING, table, "rows_extracted > 0", load_id, why))
        if status == "success":
            durations = [float(_get(r, "duration_s") or 0.0) for r in earlier
                         if _get(r, "status") == "success"][: settings.slow_history]
            duration = float(_get(run, "duration_s") or 0.0)
            if len(durations) >= settings.slow_min_runs and duration >= settings.slow_min_seconds:
                median = statistics.median(durations)
                if median > 0 and duration > settings.slow_factor * median:
                    alerts.append(Alert(
                        "slow_run", WARNING, table, f"duration <= {settings.slow_factor:g}x median", load_id,
                        f"took {duration:.1f}s, {duration / median:.1f}x the median {median:.1f}s "
                        f"of the last {len(durations)} successful runs"))
        rejected = int(_get(run, "rows_rejected") or 0)
        if rejected:
            alerts.append(Alert("rejected_rows", WARNING, table, "primary key not null", load_id,
                                f"{rejected} row(s) without a key went to the rejects table"))
    for source, obj in expected or ():
        if f"{source}.{obj}" not in seen:
            run_ids = {(_get(r, "load_id") or "") for r in runs}
            alerts.append(Alert("missing_extraction", ERROR, f"{source}.{obj}", "table extracted",
                                next(iter(sorted(run_ids)), "") or "-", "no run was recorded for this table"))
    return alerts


# --------------------------------------------------------------------------- data-quality alerts


def from_dq_results(config: Config, results: Iterable[Any], run: str | None = None) -> list[Alert]:
    """One alert per failing dbt test or freshness check (rows as `extract_load.monitoring.dq`
    writes them: table, test_name, severity, status, failures, message, invocation_id).

    Tests that only warn alert when `alerts.dq_warnings` is on; they are recorded either way.
    """
    alerts: list[Alert] = []
    for row in results:
        status = (_get(row, "status") or "").lower()
        if status in ("fail", "error", "runtime error"):
            severity = ERROR
        elif status == "warn" and config.alerts.dq_warnings:
            severity = WARNING
        else:
            continue
        failures = _get(row, "failures")
        detail = f"status {status}"
        if failures:
            detail += f", {failures} failing row(s)"
        message = scrub(_get(row, "message"), config, limit=300)
        if message:
            detail += f": {message}"
        alerts.append(Alert("dq_failure", severity, _get(row, "table_name") or _get(row, "table") or "?", _get(row, "test_name") or "?",
                            run or _get(row, "invocation_id") or "-", detail))
    return alerts


def task_failure(config: Config, dag_id: str, task_id: str, run_id: str, error: Any, table: str | None = None,
                 try_number: int | None = None) -> Alert:
    """The alert for an Airflow task that failed for good (its retries exhausted)."""
    tries = f" after {try_number} tries" if try_number else ""
    return Alert("task_failure", ERROR, table or f"{dag_id}.{task_id}", f"airflow task {dag_id}.{task_id}",
                 run_id, f"failed{tries}: {scrub(str(error) if error else '', config, limit=300)}")


# --------------------------------------------------------------------------- delivery


def send(config: Config, alerts: Sequence[Alert]) -> dict[str, int]:
    """Deliver alerts to every configured channel; returns {channel: alerts delivered}.

    A channel that fails is logged and skipped (alerting must not fail the pipeline it watches);
    every text is scrubbed again right before it leaves.
    """
    delivered: dict[str, int] = {}
    if not alerts:
        return delivered
    settings = config.alerts
    texts = [scrub(a.text(), config, limit=1000) for a in alerts]
    for channel in settings.channels:
        try:
            if channel == "log":
                for alert, text in zip(alerts, texts):
                    log.log(logging.ERROR if alert.severity == ERROR else logging.WARNING, "%s", text)
            elif channel == "webhook":
                for text in texts:
                    _post_webhook(config, text)
            elif channel == "email":
                _send_email(config, alerts, texts)
            delivered[channel] = len(alerts)
        except Exception as exc:  # noqa: BLE001 - report the channel and keep going
            log.error("alert channel %s failed: %s", channel, scrub(f"{type(exc).__name__}: {exc}", config))
    return delivered


def _post_webhook(config: Config, text: str) -> None:
    url = config.alerts.webhook_url.get_secret_value()
    body = json.dumps({"text": text}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "extract-load-alerts"})
    # No proxy from the environment: the URL carries the credential; it goes straight to its host.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=config.alerts.timeout_seconds) as response:
        if response.status >= 300:
            raise RuntimeError(f"webhook answered HTTP {response.status}")


def _send_email(config: Config, alerts: Sequence[Alert], texts: Sequence[str]) -> None:
    smtp = config.alerts.smtp
    message = EmailMessage()
    worst = ERROR if any(a.severity == ERROR for a in alerts) else WARNING
    tables = sorted({a.table for a in alerts})
    subject = f"[ELT {worst.upper()}] {len(alerts)} alert(s): {', '.join(tables[:3])}"
    if len(tables) > 3:
        subject += f" and {len(tables) - 3} more"
    message["Subject"] = scrub(subject, config, limit=200)
    message["From"] = smtp.sender
    message["To"] = ", ".join(smtp.recipients)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    message.set_content(f"Pipeline alerts at {stamp} ({config.environment}):\n\n" + "\n".join(f"- {t}" for t in texts) + "\n")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username and smtp.password is not None:
            client.login(smtp.username, smtp.password.get_secret_value())
        client.send_message(message)


# --------------------------------------------------------------------------- pipeline hooks

_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("alerts_retrying", default=False)
_checked: set[str] = set()


@contextlib.contextmanager
def retrying(active: bool = True):
    """Within this block failed runs are only logged, not alerted: the orchestrator will retry
    them, and the last try alerts."""
    token = _retrying.set(active)
    try:
        yield
    finally:
        _retrying.reset(token)


def check_runs(spark, config: Config, runs: Sequence[Any], expected: Iterable[tuple[str, str]] | None = None) -> list[Alert]:
    """Evaluate an ingest's runs against their history in `ops.ingest_runs`, send and record the
    alerts; returns them. Call it once the runs are recorded. A run already checked in this
    process is skipped, so calling it from both `run_ingest` and an Airflow task alerts once.
    """
    from extract_load.monitoring import read_runs

    fresh = [r for r in runs if _get(r, "run_id") not in _checked]
    if not fresh:
        return []
    tables = sorted({(_get(r, "source"), _get(r, "object")) for r in fresh} | set(expected or ()))
    try:
        history = read_runs(spark, config, tables=tables)
    except Exception as exc:  # noqa: BLE001 - alert on what we have rather than not at all
        log.warning("run history unavailable: %s", scrub(str(exc), config))
        history = []
    found = evaluate_runs(config, fresh, history, expected)
    _checked.update(_get(r, "run_id") for r in fresh)
    if _retrying.get():
        for alert in [a for a in found if a.kind in ("api_connection", "extraction_failed")]:
            log.warning("will retry: %s", alert.text())
        found = [a for a in found if a.kind not in ("api_connection", "extraction_failed")]
    send(config, found)
    record(spark, config, found)
    return found


def record(spark, config: Config, alerts: Sequence[Alert]) -> None:
    """Log the alerts in `ops.alerts`; a failure here is logged, never raised."""
    if not alerts or spark is None:
        return
    from extract_load.monitoring import record_alerts

    try:
        record_alerts(spark, config, alerts)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not record alerts in ops.alerts: %s", scrub(str(exc), config))
