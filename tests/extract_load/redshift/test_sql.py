"""SQL generation, connection settings, catalog checks and Arrow typing: no server, no Spark."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import expressions as exp

from extract_load.sources.registry import load_config, settings
from extract_load.errors import ConfigError, SourceError
from extract_load.sources.redshift import arrow, catalog, connection, reader
from extract_load.sources.redshift import sql as statements

# information_schema.columns rows of the source contract: (name, data_type, precision, scale)
CONTRACT = {
    "marketing_campaigns": [
        ("campaign_id", "character varying"), ("date", "date"), ("campaign_name", "character varying"),
        ("channel", "character varying"), ("status", "character varying"), ("budget", "numeric", 12, 2),
        ("spend", "numeric", 12, 2), ("impressions", "bigint"), ("clicks", "bigint"), ("conversions", "integer"),
        ("conversion_value", "numeric", 14, 2), ("currency", "character varying"),
        ("created_at", "timestamp without time zone"), ("updated_at", "timestamp without time zone")],
    "customer_behavior": [
        ("event_id", "character varying"), ("user_id", "character varying"), ("device_id", "character varying"),
        ("event_name", "character varying"), ("event_timestamp", "timestamp with time zone"), ("session_id", "bigint"),
        ("page_url", "character varying"), ("device_type", "character varying"), ("platform", "character varying"),
        ("country", "character varying"), ("city", "character varying"), ("revenue", "numeric", 12, 2),
        ("event_properties", "character varying"), ("server_received_at", "timestamp with time zone")],
    "web_analytics": [
        ("date", "date"), ("page_path", "character varying"), ("page_title", "character varying"),
        ("sessions", "integer"), ("users", "integer"), ("new_users", "integer"), ("pageviews", "integer"),
        ("bounce_rate", "numeric", 6, 4), ("avg_session_duration", "numeric", 10, 2), ("conversions", "integer"),
        ("revenue", "numeric", 14, 2), ("updated_at", "timestamp without time zone")],
}
START = {
    "marketing_campaigns": datetime(2026, 10, 1, 12, 0),
    "customer_behavior": datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc),
    "web_analytics": date(2026, 10, 1),
}


def _columns(table):
    return [catalog.Column(*row) for row in CONTRACT[table]]


@pytest.fixture(scope="module")
def config(write_config):
    return load_config(path=write_config())


@pytest.fixture(scope="module")
def plans(config):
    rs = settings(config, 'redshift')
    return {t.name: catalog.plan_table(rs, t, _columns(t.name)) for t in rs.tables}


def _statements(plan):
    start, high = START[plan.table], START[plan.table] + timedelta(days=1)
    keys_after = ["k"] * len(plan.keys)
    yield statements.stats_statement(plan, None)
    yield statements.stats_statement(plan, start)
    yield statements.keyset_statement(plan, None, high, None, 1000)
    yield statements.keyset_statement(plan, start, high, [start, *keys_after], 1000)
    yield statements.null_cursor_statement(plan, None, 1000)
    yield statements.null_cursor_statement(plan, keys_after, 1000)
    yield statements.null_key_statement(plan, None, high, True, 1000, 0)
    yield statements.null_key_statement(plan, start, high, False, 1000, 2000)
    yield catalog.CATALOG_SQL, ["public", plan.table]


def test_every_generated_statement_parses_as_redshift_with_bound_values(plans):
    seen = 0
    for plan in plans.values():
        for sql, params in _statements(plan):
            tree = sqlglot.parse_one(sql, read="redshift")
            assert isinstance(tree, exp.Select), sql
            # values are bound: one placeholder per parameter, no literal but LIMIT/OFFSET numbers
            assert len(list(tree.find_all(exp.Placeholder))) == len(params), sql
            # (the packed select list has its own constant strings: separators, quotes, formats)
            where = tree.args.get("where")
            assert where is None or not [lit for lit in where.find_all(exp.Literal) if lit.is_string], sql
            # no row-value comparison (a tuple on either side), no PostgreSQL-only casts or FETCH FIRST
            for cmp in tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE, exp.EQ):
                assert not isinstance(cmp.this, exp.Tuple) and not isinstance(cmp.expression, exp.Tuple), sql
            assert "::" not in sql and "FETCH" not in sql.upper() and "NULLS" not in sql.upper()
            # every table and column identifier the loader wrote is quoted (the catalog query aside)
            if sql != catalog.CATALOG_SQL:
                assert all(i.quoted for i in tree.find_all(exp.Identifier)), sql
            # round trip through the Redshift dialect keeps it valid
            sqlglot.transpile(sql, read="redshift", write="redshift", unsupported_level=sqlglot.ErrorLevel.RAISE)
            seen += 1
    assert seen == 27


def test_keyset_predicate_is_the_expanded_row_comparison(plans):
    sql, params = statements.keyset_statement(plans["marketing_campaigns"], None, datetime(2026, 11, 1), [1, 2, 3], 10)
    # the leading `>=` is what an index range (PostgreSQL) or a zone map (Redshift) can use
    assert ('"updated_at" >= %s AND ("updated_at" > %s OR ("updated_at" = %s AND ("campaign_id" > %s OR '
            '("campaign_id" = %s AND "date" > %s))))') in sql
    assert params == [datetime(2026, 11, 1), 1, 1, 1, 2, 2, 3]
    assert sql.endswith('ORDER BY "updated_at", "campaign_id", "date" LIMIT 10')


def test_plan_uses_catalog_names_and_derives_event_date(plans):
    events = plans["customer_behavior"]
    assert events.keys == ("event_id",) and events.cursor.name == "event_timestamp"
    assert events.partition_by == ("event_date",) and events.derived_dates == ("event_date",)
    assert events.lookback == timedelta(minutes=120)
    assert plans["web_analytics"].version_column == "updated_at"
    assert plans["marketing_campaigns"].version_column == "updated_at"
    hints = events.dlt_columns()
    assert hints["revenue"] == {"name": "revenue", "data_type": "decimal", "precision": 12, "scale": 2, "nullable": True}
    assert hints["event_timestamp"]["timezone"] is True and hints["event_date"]["data_type"] == "date"


def test_unknown_column_in_config_is_a_one_line_error_naming_it(config):
    rs = settings(config, 'redshift')
    table = rs.table("marketing_campaigns").model_copy(update={"cursor": "modified_at"})
    with pytest.raises(SourceError) as err:
        catalog.plan_table(rs, table, _columns("marketing_campaigns"))
    message = str(err.value)
    assert "'modified_at'" in message and "public.marketing_campaigns" in message and "\n" not in message


def test_malicious_table_name_is_rejected_before_any_sql(write_config, monkeypatch):
    import redshift_connector

    def no_connection(**kwargs):
        raise AssertionError("no connection may be opened for an invalid config")

    monkeypatch.setattr(redshift_connector, "connect", no_connection)
    path = write_config({"data_sources": {"redshift": {"tables": [
        {"name": "x; drop table y", "primary_key": ["id"], "cursor": "updated_at"}]}}})
    with pytest.raises(ConfigError) as err:
        load_config(path=path)
    assert "not a plain SQL identifier" in str(err.value) and "\n" not in str(err.value)
    path = write_config({"data_sources": {"redshift": {"tables": [
        {"name": "t", "primary_key": ['id" OR 1=1 --'], "cursor": "updated_at"}]}}})
    with pytest.raises(ConfigError):
        load_config(path=path)


def test_tls_is_verify_full_by_default_and_off_only_when_configured(write_config):
    rs = settings(load_config(path=write_config({"data_sources": {"redshift": {"ssl": {"enabled": True, "verify": True}}}})), 'redshift')
    kwargs = connection.connection_kwargs(rs)
    assert kwargs["ssl"] is True and kwargs["sslmode"] == "verify-full"
    assert kwargs["user"] == "loader" and kwargs["password"] == "sandbox-password"
    rs = settings(load_config(path=write_config()), 'redshift')  # the sandbox config: ssl.enabled false
    assert connection.connection_kwargs(rs)["ssl"] is False and "sslmode" not in connection.connection_kwargs(rs)


def test_iam_auth_uses_cluster_identifier_region_and_db_user(write_config):
    rs = settings(load_config(path=write_config({"data_sources": {"redshift": {
        "auth": "iam", "host": None, "cluster_identifier": "prod-cluster", "region": "eu-west-1", "db_user": "etl",
        "password": None, "aws_profile": "elt", "ssl": {"enabled": True, "verify": True}}}})), 'redshift')
    kwargs = connection.connection_kwargs(rs)
    assert kwargs["iam"] is True and kwargs["cluster_identifier"] == "prod-cluster"
    assert kwargs["region"] == "eu-west-1" and kwargs["db_user"] == "etl" and kwargs["profile"] == "elt"
    assert "host" not in kwargs and kwargs["sslmode"] == "verify-full"


def test_connection_error_cause_is_one_line_without_the_password():
    exc = Exception({"S": "FATAL", "C": "28P01", "M": "password authentication failed for user \"loader\""})
    assert connection.one_line_cause(exc) == 'password authentication failed for user "loader"'
    exc = Exception("could not connect\nwith password hunter2", ConnectionRefusedError(111, "Connection refused"))
    cause = connection.one_line_cause(exc, "hunter2")
    assert "hunter2" not in cause and "\n" not in cause and "Connection refused" in cause


def test_unload_sql_escapes_the_query_and_parses(plans):
    plan = plans["customer_behavior"]
    start = datetime(2026, 10, 1, 10, 0, tzinfo=timezone.utc)
    sql, target = statements.unload_statement(plan, start, start + timedelta(days=30), "s3://elt-bucket/unload/",
                                     "arn:aws:iam::123456789012:role/redshift-unload", "20261101T000000Z-abc123")
    assert target == "s3://elt-bucket/unload/customer_behavior/20261101T000000Z-abc123/"
    match = re.fullmatch(r"UNLOAD \('(.*)'\) TO '(.*)' IAM_ROLE '(.*)' FORMAT AS PARQUET MAXFILESIZE 256 MB", sql)
    assert match, sql
    inner = match.group(1).replace("''", "'")
    assert "'2026-10-01 10:00:00.000000+00'" in inner
    tree = sqlglot.parse_one(inner, read="redshift")
    assert isinstance(tree, exp.Select) and tree.find(exp.Table).name == "customer_behavior"
    assert match.group(2) == target and match.group(3).endswith("role/redshift-unload")
    sqlglot.parse_one(sql, read="redshift")  # the statement as a whole is accepted by the dialect
    with pytest.raises(ConfigError):
        statements.unload_statement(plan, None, None, "s3://b/x' ; drop", "arn:aws:iam::123456789012:role/r", "L1")
    with pytest.raises(ConfigError):
        statements.unload_statement(plan, None, None, "s3://bucket/x", "arn:aws:iam::1:role/r'", "L1")


def test_stored_cursor_round_trips_and_lookback_moves_the_window_back(plans):
    events, ga4 = plans["customer_behavior"], plans["web_analytics"]
    ts = datetime(2026, 10, 31, 20, 57, 37, 353000, tzinfo=timezone.utc)
    assert statements.parse_cursor(statements.cursor_text(ts), events.cursor) == ts
    assert statements.window_start(ts, events) == ts - timedelta(hours=2)
    assert statements.window_start(date(2026, 10, 31), ga4) == date(2026, 10, 28)
    naive = datetime(2026, 10, 31, 23, 48, 26)
    assert statements.parse_cursor(statements.cursor_text(naive), plans["marketing_campaigns"].cursor) == naive
    assert statements.window_start(naive, plans["marketing_campaigns"]) == naive


def test_chunk_to_arrow_keeps_types_nulls_unicode_and_utc_event_date(plans):
    plan = plans["customer_behavior"]
    late = datetime(2026, 1, 2, 1, 30, tzinfo=timezone(timedelta(hours=2)))  # 2026-01-01 23:30 UTC
    row = ["e1", None, "dev", "Ñandú 🚀 夏", late, 7, None, None, None, None, None, Decimal("12.50"), "{}", late]
    table = arrow.to_arrow(plan, [row, ["e2"] + [None] * 13])
    assert table.schema.field("revenue").type == pa.decimal128(12, 2)
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("user_id").type == pa.string() and table.column("user_id").null_count == 2
    assert table.column("event_date").to_pylist() == [date(2026, 1, 1), None]
    assert table.column("event_name")[0].as_py() == "Ñandú 🚀 夏"
    assert table.column("revenue")[0].as_py() == Decimal("12.50")
    empty = arrow.to_arrow(plan, [])
    assert empty.num_rows == 0 and empty.num_columns == 15


def test_a_commit_group_takes_a_short_tail_but_never_twice_its_size():
    from extract_load.load.runs import RunMetrics
    from extract_load.sources.redshift.extract import _Group

    def groups(chunks: int, size: int, window_rows: int) -> list[int]:
        rest = iter([reader.Chunk(i, "cursor", None, 10, 0) for i in range(1, chunks + 1)])
        metrics = RunMetrics(run_id="r", load_id="l", source="redshift", object="t")
        sizes, pending = [], next(rest, None)
        while pending is not None:
            group = _Group(pending, rest, size, metrics, window_rows, chunk_rows=10)
            sizes.append(len(list(group)))
            pending = None if group.exhausted else next(rest, None)
        return sizes

    assert groups(21, 20, 210) == [21]  # one chunk left after a group: no commit of its own
    assert groups(31, 20, 310) == [20, 11]  # more than half a group left: its own commit
    assert groups(60, 20, 100) == [40, 20]  # a count that fell short never makes a group past 2x
