"""Alerts reach real receivers on loopback (an HTTP server for the webhook, an SMTP server) with
the table, the check and the run named, and no secret in them."""
from __future__ import annotations

import json
import shutil
import threading
from datetime import datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from extract_load import alerts
from extract_load.config import CONFIG_DIR, PROJECT_ROOT
from extract_load.sources.registry import load_config
from extract_load.load.runs import RunMetrics
from tests.conftest import free_port

WEBHOOK_TOKEN = "T0KEN9hooksecret"
SMTP_PASSWORD = "smtp-pa55word-xyz"
API_KEY = "pat-na1-0123abcd-4567-89ef-aaaa-bbbbccccdddd"
DB_PASSWORD = "redshift-s3cret-pw"
SECRETS = (WEBHOOK_TOKEN, SMTP_PASSWORD, API_KEY, DB_PASSWORD)


class Webhook:
    """A Slack stand-in: records the JSON body of every POST."""

    def __init__(self):
        self.posts: list[dict] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "json": json.loads(body), "raw": body.decode()})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/services/{WEBHOOK_TOKEN}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    """An SMTP server (aiosmtpd) with AUTH that keeps every message it accepts."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list[dict] = []
        self.logins: list[str] = []
        box = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                box.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                     "raw": envelope.content.decode("utf-8", "replace"),
                                     "email": message_from_bytes(envelope.content)})
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == b"alerts" and auth_data.password == SMTP_PASSWORD.encode()
            if ok:
                box.logins.append(auth_data.login.decode())
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticator,
                                     auth_require_tls=False)
        self.controller.start()

    def close(self):
        self.controller.stop()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def mailbox():
    box = Mailbox()
    yield box
    box.close()


@pytest.fixture
def alert_config(write_config, webhook, mailbox, monkeypatch, run_dir):
    """All three channels on the loopback receivers; secrets through the environment as in production."""
    monkeypatch.setenv("ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("ALERT_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("HUBSPOT_API_KEY", API_KEY)
    monkeypatch.setenv("REDSHIFT_PASSWORD", DB_PASSWORD)
    path = write_config({
        "lakehouse": {"root": str(run_dir / "alerts-lake"), "ops_schema": "ops_alerts_test"},
        "alerts": {
            "channels": ["log", "webhook", "email"],
            "webhook_url": "${ALERT_WEBHOOK_URL}",
            "smtp": {"host": "127.0.0.1", "port": mailbox.port, "sender": "elt@example.test",
                     "recipients": ["oncall@example.test"], "username": "alerts",
                     "password": "${ALERT_SMTP_PASSWORD}", "starttls": False},
        },
    })
    return load_config(path=path)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


def delivered_texts(webhook: Webhook, mailbox: Mailbox) -> list[str]:
    return [p["raw"] for p in webhook.posts] + [m["raw"] for m in mailbox.messages]


def run(status: str, **fields) -> RunMetrics:
    metrics = RunMetrics(run_id=fields.pop("run_id", "r-" + status), load_id=fields.pop("load_id", "20261125T100000000000Z-abc123"),
                         source=fields.pop("source", "hubspot"), object=fields.pop("object", "contacts"))
    for key, value in fields.items():
        setattr(metrics, key, value)
    metrics.status = status
    return metrics


# --------------------------------------------------------------------------- the three planted problems


def test_refused_connection_alerts_once_without_the_secrets(alert_config, webhook, mailbox, caplog):
    closed = free_port()  # nothing listens here: the connection is refused
    with pytest.raises(requests.ConnectionError) as refused:
        requests.get(f"http://127.0.0.1:{closed}/crm/v3/objects/contacts?hapikey={API_KEY}",
                     headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
    failed = RunMetrics(run_id="r1", load_id="20261125T101500000000Z-f00d01", source="hubspot", object="contacts")
    failed.finish(error=f"{refused.value} (token={API_KEY}, password {DB_PASSWORD})")

    found = alerts.evaluate_runs(alert_config, [failed], history=[])
    assert [(a.kind, a.table, a.run) for a in found] == [
        ("api_connection", "hubspot.contacts", "20261125T101500000000Z-f00d01")]

    caplog.set_level("WARNING", logger="extract_load.alerts")
    assert alerts.send(alert_config, found) == {"log": 1, "webhook": 1, "email": 1}
    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
    text = webhook.posts[0]["json"]["text"]
    assert "api_connection" in text and "hubspot.contacts" in text and "20261125T101500000000Z-f00d01" in text
    assert "refused" in text.lower()
    assert mailbox.messages[0]["to"] == ["oncall@example.test"] and mailbox.logins == ["alerts"]
    assert "hubspot.contacts" in mailbox.messages[0]["email"]["Subject"]
    assert_no_secret(*delivered_texts(webhook, mailbox), caplog.text)


def test_empty_extraction_alerts_once(alert_config, webhook, mailbox):
    empty = run("empty", source="redshift", object="web_analytics", mode="full", cursor_before=None,
                load_id="20261125T110000000000Z-e4a7e1")
    healthy = run("success", run_id="r-ok", source="redshift", object="marketing_campaigns", rows_extracted=100,
                  duration_s=2.0)

    found = alerts.evaluate_runs(alert_config, [empty, healthy], history=[])
    assert [(a.kind, a.table, a.check) for a in found] == [
        ("empty_extraction", "redshift.web_analytics", "rows_extracted > 0")]

    alerts.send(alert_config, found)
    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
    text = webhook.posts[0]["json"]["text"]
    assert "redshift.web_analytics" in text and "20261125T110000000000Z-e4a7e1" in text
    assert_no_secret(*delivered_texts(webhook, mailbox))


def test_planted_data_quality_failure_alerts_once(alert_config, spark, webhook, mailbox, tmp_path):
    """A real dbt run over a Delta table with a null key: the error test fails, the warning test
    only warns, the passing test passes; exactly the failure is alerted and every result recorded."""
    from extract_load.dbt_runner import run_dbt
    from extract_load.monitoring import parse_dbt_artifacts, record_dq_results

    schema = "alerts_probe"
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
    spark.sql(f"DROP TABLE IF EXISTS {schema}.planted")
    spark.createDataFrame([(1, "a"), (2, None), (None, "c")], "id int, name string").write.format("delta") \
        .option("path", str(tmp_path / "planted")).saveAsTable(f"{schema}.planted")

    project = tmp_path / "probe_project"
    (project / "models").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "dbt_project" / "profiles.yml", project / "profiles.yml")
    (project / "dbt_project.yml").write_text(
        "name: alerts_probe\nversion: '1.0'\nprofile: elt\nmodel-paths: [models]\n")
    (project / "models" / "_probe__sources.yml").write_text(f"""
version: 2
sources:
  - name: probe
    schema: {schema}
    tables:
      - name: planted
        columns:
          - name: id
            data_tests: [not_null, unique]
          - name: name
            data_tests:
              - not_null:
                  config: {{severity: warn}}
""")
    config = alert_config.model_copy(update={"dbt": alert_config.dbt.model_copy(update={"project_dir": str(project)})})
    target = tmp_path / "target"
    result = run_dbt(config, ["test", "--target-path", str(target)])
    assert result.exception is None

    rows = parse_dbt_artifacts(target, run_label="probe-run-1")
    by_test = {r["test_name"]: r for r in rows}
    assert {(r["rule"], r["column_name"], r["severity"], r["status"]) for r in rows} == {
        ("not_null", "id", "error", "fail"), ("unique", "id", "error", "pass"), ("not_null", "name", "warn", "warn")}
    assert {r["table_name"] for r in rows} == {"probe.planted"}
    failing = by_test["source_not_null_probe_planted_id"]
    assert failing["failures"] == 1 and failing["invocation_id"] and failing["generated_at"]

    assert record_dq_results(spark, config, rows) == 3
    stored = spark.table("ops_alerts_test.dq_results").where(f"invocation_id = '{failing['invocation_id']}'")
    assert stored.count() == 3

    found = alerts.from_dq_results(config, rows, run="probe-run-1")
    assert [(a.kind, a.table, a.check, a.run) for a in found] == [
        ("dq_failure", "probe.planted", "source_not_null_probe_planted_id", "probe-run-1")]
    alerts.send(config, found)
    assert len(webhook.posts) == 1 and len(mailbox.messages) == 1
    text = webhook.posts[0]["json"]["text"]
    assert "source_not_null_probe_planted_id" in text and "probe.planted" in text and "probe-run-1" in text
    assert "1 failing row" in text
    assert_no_secret(*delivered_texts(webhook, mailbox))


# --------------------------------------------------------------------------- rules


def history_of(durations: list[float], table=("hubspot", "deals")) -> list[dict]:
    start = datetime(2026, 11, 1)
    return [{"run_id": f"h{i}", "load_id": f"l{i}", "source": table[0], "object": table[1], "status": "success",
             "started_at": start + timedelta(hours=i), "duration_s": d} for i, d in enumerate(durations)]


def test_performance_degradation_is_more_than_three_times_the_median(alert_config):
    history = history_of([10, 11, 9, 10, 12, 10, 10, 9, 11, 10, 500])  # the oldest outlier is past the last 10
    slow = run("success", source="hubspot", object="deals", duration_s=45.0, rows_extracted=5)
    normal = run("success", run_id="r2", source="hubspot", object="deals", duration_s=25.0, rows_extracted=5)
    history[-1]["started_at"] = datetime(2026, 10, 1)
    [alert] = alerts.evaluate_runs(alert_config, [slow], history)
    assert (alert.kind, alert.table) == ("slow_run", "hubspot.deals") and "4.5x" in alert.detail
    assert alerts.evaluate_runs(alert_config, [normal], history) == []
    assert alerts.evaluate_runs(alert_config, [slow], history[:2]) == []  # too little history to judge


def test_incremental_empty_runs_alert_only_after_a_streak(alert_config):
    quiet = run("empty", source="hubspot", object="tickets", mode="incremental", cursor_before="2026-11-01")
    past = [{"run_id": f"e{i}", "source": "hubspot", "object": "tickets", "status": "empty",
             "started_at": datetime(2026, 11, 1, i)} for i in range(2)]
    assert alerts.evaluate_runs(alert_config, [quiet], past[:1]) == []
    [alert] = alerts.evaluate_runs(alert_config, [quiet], past)
    assert alert.kind == "empty_extraction" and "3 consecutive" in alert.detail


def test_missing_extraction_and_failed_load(alert_config):
    failed = run("failed", source="redshift", object="marketing_campaigns",
                 error="MERGE failed: column spend has type string, bronze has double")
    found = alerts.evaluate_runs(alert_config, [failed], [], expected=[("redshift", "marketing_campaigns"),
                                                                        ("redshift", "web_analytics")])
    assert [(a.kind, a.table) for a in found] == [("extraction_failed", "redshift.marketing_campaigns"),
                                                  ("missing_extraction", "redshift.web_analytics")]


def test_a_channel_that_is_down_does_not_stop_the_others(alert_config, mailbox):
    down = alert_config.model_copy(update={"alerts": alert_config.alerts.model_copy(
        update={"webhook_url": alerts.SecretStr(f"http://127.0.0.1:{free_port()}/{WEBHOOK_TOKEN}")})})
    sent = alerts.send(down, [alerts.Alert("slow_run", "warning", "hubspot.deals", "duration", "l1")])
    assert sent == {"log": 1, "email": 1}
    assert len(mailbox.messages) == 1


def test_scrub_masks_credentials_but_keeps_names():
    text = alerts.scrub(
        f"postgresql://loader:{DB_PASSWORD}@host/db password={DB_PASSWORD} Authorization: Bearer {API_KEY} "
        "key 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a test source_not_null_hubspot_contacts_id failed")
    assert_no_secret(text)
    assert "3f9a8b7c6d5e4f3a2b1c" not in text
    assert "source_not_null_hubspot_contacts_id" in text


def test_alerts_config_is_validated(write_config):
    from extract_load.errors import ConfigError

    with pytest.raises(ConfigError, match="webhook channel needs webhook_url"):
        load_config(path=write_config({"alerts": {"channels": ["webhook"]}}))
    assert load_config(path=CONFIG_DIR / "default.yaml").alerts.channels == ["log"]
