"""The Redshift stand-in, exercised through the official redshift_connector driver."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import redshift_connector

from sandbox import redshift
from sandbox.redshift import SandboxError
from sandbox.redshift.server import Layout
from tests.fixtures.redshift_sandbox import free_port, start_onfree_ports

REPO = Path(__file__).resolve().parents[2]
TABLES = {  # table -> cursor column
    "marketing_campaigns": "updated_at",
    "customer_behavior": "event_timestamp",
    "web_analytics": "date",
}
CONTRACT = {
    "marketing_campaigns": [
        ("campaign_id", "character varying", 32), ("date", "date", None),
        ("campaign_name", "character varying", 256), ("channel", "character varying", 32),
        ("status", "character varying", 16), ("budget", "numeric", (12, 2)),
        ("spend", "numeric", (12, 2)), ("impressions", "bigint", None), ("clicks", "bigint", None),
        ("conversions", "integer", None), ("conversion_value", "numeric", (14, 2)),
        ("currency", "character varying", 3), ("created_at", "timestamp without time zone", None),
        ("updated_at", "timestamp without time zone", None)],
    "customer_behavior": [
        ("event_id", "character varying", 64), ("user_id", "character varying", 64),
        ("device_id", "character varying", 64), ("event_name", "character varying", 128),
        ("event_timestamp", "timestamp with time zone", None), ("session_id", "bigint", None),
        ("page_url", "character varying", 2048), ("device_type", "character varying", 32),
        ("platform", "character varying", 32), ("country", "character varying", 64),
        ("city", "character varying", 128), ("revenue", "numeric", (12, 2)),
        ("event_properties", "character varying", 65535),
        ("server_received_at", "timestamp with time zone", None)],
    "web_analytics": [
        ("date", "date", None), ("page_path", "character varying", 1024),
        ("page_title", "character varying", 512), ("sessions", "integer", None),
        ("users", "integer", None), ("new_users", "integer", None), ("pageviews", "integer", None),
        ("bounce_rate", "numeric", (6, 4)), ("avg_session_duration", "numeric", (10, 2)),
        ("conversions", "integer", None), ("revenue", "numeric", (14, 2)),
        ("updated_at", "timestamp without time zone", None)],
}


def query(info, sql, params=None):
    conn = redshift_connector.connect(**{k: info[k] for k in ("host", "port", "database", "user", "password")},
                                      ssl=False)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        conn.rollback()
        return [tuple(r) for r in rows]
    finally:
        conn.close()


def checksum(info, table):
    return query(info, f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM public.{table} t")[0][0]


@pytest.fixture(scope="module")
def facts(redshift_sandbox):
    return redshift.manifest(redshift_sandbox.conn_info)


# ---------------------------------------------------------------- the driver and the data

def test_official_driver_connects_without_ssl(redshift_sandbox):
    conn = redshift_connector.connect(**redshift_sandbox.conn_info, ssl=False)
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_database(), current_user, current_setting('server_version')")
        database, user, version = cur.fetchone()
    finally:
        conn.close()
    assert (database, user) == ("analytics", "loader")
    assert version.split(".")[0] == "18"
    assert redshift_sandbox.host == "127.0.0.1"


def test_schema_is_the_contract(redshift_sandbox):
    for table, columns in CONTRACT.items():
        rows = query(redshift_sandbox, """
            SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale
            FROM information_schema.columns
            WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position""", (table,))
        got = [(name, kind, length if kind == "character varying" else
                (prec, scale) if kind == "numeric" else None)
               for name, kind, length, prec, scale in rows]
        assert got == columns, table


@pytest.mark.parametrize("table,cursor", TABLES.items())
def test_parameterised_select_reads_every_row(redshift_sandbox, facts, table, cursor):
    conn = redshift_sandbox.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT * FROM public.{table} WHERE {cursor} >= %s ORDER BY {cursor}",
                    (dt.date(2000, 1, 1),))
        total = 0
        while batch := cur.fetchmany(5000):
            total += len(batch)
    finally:
        conn.close()
    assert total == facts[table]["rows"] > 0


def test_row_counts_and_dirty_rows_match_manifest(redshift_sandbox, facts):
    stored = json.loads(Layout(redshift_sandbox.data_dir).manifest.read_text())
    assert {t: stored[t] for t in TABLES} == {t: facts[t] for t in TABLES}
    mc, cb, ga = facts["marketing_campaigns"], facts["customer_behavior"], facts["web_analytics"]
    assert mc["rows"] == 30 * 60 and ga["rows"] == 50 * 60 and cb["rows"] == 20_000
    for count, rows in [(mc["null_campaign_id"], mc["rows"]), (mc["null_campaign_name"], mc["rows"]),
                        (mc["negative_spend"], mc["rows"]), (cb["null_event_id"], cb["rows"]),
                        (cb["exact_duplicate_extra_rows"], cb["rows"]), (cb["null_user_id"], cb["rows"]),
                        (cb["late_events"], cb["rows"]), (ga["negative_sessions"], ga["rows"]),
                        (ga["negative_revenue"], ga["rows"])]:
        assert 0 < count < rows * 0.03
    assert query(redshift_sandbox, "SELECT count(*) FROM public.customer_behavior WHERE user_id IS NULL") \
        == [(cb["null_user_id"],)]


def test_keys_are_unique_apart_from_planted_duplicates(facts):
    mc, cb, ga = facts["marketing_campaigns"], facts["customer_behavior"], facts["web_analytics"]
    assert mc["duplicate_key_extra_rows"] == 0 and ga["duplicate_key_extra_rows"] == 0
    assert mc["distinct_keys"] == mc["rows"] - mc["null_campaign_id"]
    assert ga["distinct_keys"] == ga["rows"] - ga["null_page_path"]
    # every repeated event_id is an exact copy of its row
    assert cb["duplicate_event_id_extra_rows"] <= cb["exact_duplicate_extra_rows"]
    assert cb["distinct_event_ids"] + cb["duplicate_event_id_extra_rows"] + cb["null_event_id"] == cb["rows"]


def test_values_come_back_typed(redshift_sandbox):
    (budget, spend, day, created, impressions), = query(redshift_sandbox, """
        SELECT budget, spend, date, created_at, impressions FROM public.marketing_campaigns
        WHERE campaign_id = %s ORDER BY date LIMIT 1""", ("gads-000001",))
    assert isinstance(budget, Decimal) and isinstance(spend, Decimal) and budget.as_tuple().exponent == -2
    assert type(day) is dt.date and type(created) is dt.datetime and created.tzinfo is None
    assert isinstance(impressions, int)
    (ts, received, revenue, session_id), = query(redshift_sandbox, """
        SELECT event_timestamp, server_received_at, revenue, session_id FROM public.customer_behavior
        WHERE event_name = %s ORDER BY event_timestamp LIMIT 1""", ("purchase",))
    assert ts.utcoffset() == dt.timedelta(0) and received > ts
    assert isinstance(revenue, Decimal) and isinstance(session_id, int)
    assert session_id <= int(ts.timestamp() * 1000)
    (bounce,), = query(redshift_sandbox, "SELECT max(bounce_rate) FROM public.web_analytics")
    assert isinstance(bounce, Decimal) and 0 <= bounce <= 1


def test_unicode_round_trips(redshift_sandbox):
    for table, column, value in [("marketing_campaigns", "campaign_name", "%Ñandú 🚀%"),
                                 ("marketing_campaigns", "campaign_name", "%夏季促销%"),
                                 ("customer_behavior", "city", "München"),
                                 ("customer_behavior", "page_url", "%/products/été-sandal"),
                                 ("customer_behavior", "event_properties", "%夏季促销%")]:
        rows = query(redshift_sandbox, f"SELECT {column} FROM public.{table} WHERE {column} LIKE %s LIMIT 1",
                     (value,))
        assert rows, (table, column, value)
        assert value.strip("%") in rows[0][0]
    (props,), = query(redshift_sandbox, "SELECT event_properties FROM public.customer_behavior LIMIT 1")
    assert "page_title" in json.loads(props)


def test_funnel_and_metrics_are_plausible(redshift_sandbox):
    users = dict(query(redshift_sandbox, """
        SELECT event_name, count(DISTINCT user_id) FROM public.customer_behavior GROUP BY 1"""))
    steps = ["session_start", "sign_up", "add_to_cart", "begin_checkout", "purchase"]
    assert [users[s] for s in steps] == sorted((users[s] for s in steps), reverse=True)
    assert query(redshift_sandbox, """
        SELECT count(*) FROM public.marketing_campaigns
        WHERE NOT (impressions > clicks AND clicks > conversions) OR spend > budget * 1.06""") == [(0,)]
    assert query(redshift_sandbox, """
        SELECT count(*) FROM public.customer_behavior
        WHERE (revenue IS NOT NULL) <> (event_name = 'purchase')""") == [(0,)]


# ---------------------------------------------------------------- determinism

def test_same_seed_same_data_other_seed_differs(redshift_sandbox, redshift_database):
    same = redshift_database(seed=42)
    other = redshift_database(seed=7)
    for table in TABLES:
        assert checksum(same, table) == checksum(redshift_sandbox, table), table
        assert checksum(other, table) != checksum(redshift_sandbox, table), table


# ---------------------------------------------------------------- advancing time

def test_advance_adds_later_rows_and_late_events(redshift_database):
    db = redshift_database(seed=42, events=3000)
    twin = redshift_database(seed=42, events=3000)
    before = redshift.manifest(db)
    changes = redshift.advance(db, hours=2)
    after = redshift.manifest(db)
    assert changes == redshift.advance(twin, hours=2)  # same seed and state => same changes
    assert checksum(db, "customer_behavior") == checksum(twin, "customer_behavior")

    mc0, mc1 = before["marketing_campaigns"], after["marketing_campaigns"]
    assert mc1["rows"] == mc0["rows"] + changes["marketing_campaigns"]["inserted"] > mc0["rows"]
    assert changes["marketing_campaigns"]["updated"] > 0 and mc1["max_updated_at"] > mc0["max_updated_at"]
    assert mc1["max_date"] > mc0["max_date"]

    cb0, cb1 = before["customer_behavior"], after["customer_behavior"]
    assert cb1["rows"] == cb0["rows"] + changes["customer_behavior"]["inserted"]
    assert cb1["max_event_timestamp"] > cb0["max_event_timestamp"]
    late = query(db, """
        SELECT count(*) FROM public.customer_behavior
        WHERE server_received_at > %s AND event_timestamp < %s AND event_timestamp >= %s""",
                 (dt.datetime.fromisoformat(cb0["max_server_received_at"]),
                  dt.datetime.fromisoformat(cb0["max_event_timestamp"]),
                  dt.datetime.fromisoformat(cb0["max_event_timestamp"]) - dt.timedelta(hours=2)))
    assert late[0][0] == changes["customer_behavior"]["late"] > 0

    ga0, ga1 = before["web_analytics"], after["web_analytics"]
    assert ga1["rows"] == ga0["rows"] + changes["web_analytics"]["inserted"]
    assert dt.date.fromisoformat(ga1["max_date"]) == dt.date.fromisoformat(ga0["max_date"]) + dt.timedelta(days=1)
    restated = query(db, "SELECT count(DISTINCT date) FROM public.web_analytics WHERE updated_at > %s AND date < %s",
                     (dt.datetime.fromisoformat(ga0["max_updated_at"]), dt.date.fromisoformat(ga1["max_date"])))
    assert restated == [(3,)]


def test_add_column(redshift_database):
    db = redshift_database(events=500)
    filled = redshift.add_column(db, "web_analytics", "engaged_sessions", "integer", "sessions / 2")
    assert filled == redshift.manifest(db)["web_analytics"]["rows"]
    assert query(db, """SELECT data_type FROM information_schema.columns
                        WHERE table_name = 'web_analytics' AND column_name = 'engaged_sessions'""") == [("integer",)]
    assert redshift.add_column(db, "marketing_campaigns", "labels", "varchar(256)") == 0
    assert query(db, "SELECT count(labels) FROM public.marketing_campaigns") == [(0,)]
    with pytest.raises(ValueError):
        redshift.add_column(db, "pg_class", "x", "integer")


# ---------------------------------------------------------------- lifecycle

def test_start_is_idempotent_on_the_running_instance(redshift_sandbox):
    began = time.monotonic()
    again = redshift.start(redshift_sandbox.data_dir, port=redshift_sandbox.port,
                           pg_port=json.loads(Layout(redshift_sandbox.data_dir).state.read_text())["pg_port"])
    assert again == redshift_sandbox.conn_info
    assert time.monotonic() - began < 1
    assert redshift.is_running(redshift_sandbox.data_dir)


def test_stop_start_reuses_data_and_survives_stale_pid_files(tmp_path):
    data_dir = tmp_path / "rs"
    info = start_onfree_ports(data_dir, events=500)
    layout = Layout(data_dir)
    query(info, "SELECT 1")
    conn = redshift_connector.connect(**info, ssl=False)
    conn.cursor().execute("UPDATE public.web_analytics SET page_title = %s WHERE date = %s",
                          ("kept", dt.date(2026, 10, 31)))
    conn.commit()
    conn.close()
    try:
        redshift.stop(data_dir)
        redshift.stop(data_dir)
        assert not redshift.is_running(data_dir)
        # a crashed run leaves pid files of processes that are gone
        layout.bouncer_pid.write_text("999999\n")
        (layout.pgdata / "postmaster.pid").write_text(f"999999\n{layout.pgdata}\n")
        state = json.loads(layout.state.read_text())
        again = redshift.start(data_dir, port=state["port"], pg_port=state["pg_port"], seed=1)
        assert redshift.is_running(data_dir)
        assert query(again, "SELECT count(*) FROM public.web_analytics WHERE page_title = %s",
                     ("kept",)) == [(50,)]
        assert (layout.logs / "postgres.log").exists() and (layout.logs / "pgbouncer.log").exists()
    finally:
        redshift.stop(data_dir)
    assert not redshift.is_running(data_dir)


def test_busy_port_is_named(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError, match=f"port {port} .*busy"):
            redshift.start(tmp_path / "rs", port=port, pg_port=free_port())


def test_cli_status_reports_the_running_instance(redshift_sandbox):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "sandbox.redshift", "status",
                          "--data-dir", str(redshift_sandbox.data_dir)],
                         capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["running"] is True and status["port"] == redshift_sandbox.port
