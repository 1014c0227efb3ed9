"""Packed rows: what a read fetches as one CSV text per row comes back exactly as the driver's
own values would, for every packable type and the values CSV makes hard (quotes, commas, line
breaks, empty strings next to nulls). A real PostgreSQL behind the Redshift driver; no Spark.
"""
from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from extract_load.sources.registry import load_config, settings
from extract_load.errors import SourceError
from extract_load.sources.redshift import arrow, catalog, connection
from extract_load.sources.redshift.reader import ChunkReader
from extract_load.sources.redshift import sql as statements
from sandbox.redshift.db import ensure_database, transaction

DDL = """CREATE TABLE public.edge (
    id integer, small smallint, big bigint, amount numeric(12,2), wide numeric(38,9), flag boolean,
    day date, seen_at timestamp, changed_at timestamptz, name varchar(64), notes varchar(4000),
    ratio double precision, body text, code char(5))"""
COLUMNS = ["id", "small", "big", "amount", "wide", "flag", "day", "seen_at", "changed_at", "name", "notes",
           "ratio", "body", "code"]
PACKABLE = ("id", "small", "big", "amount", "wide", "flag", "day", "seen_at", "changed_at", "name", "notes")
T0 = datetime(2026, 3, 1, 23, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))


def _row(i, **values):
    row = dict.fromkeys(COLUMNS)
    row.update(id=i, changed_at=T0 + timedelta(minutes=i or 0))
    row.update(values)
    return [row[c] for c in COLUMNS]


ROWS = [
    _row(1, small=-32768, big=9223372036854775807, amount=Decimal("-1234567890.12"),
         wide=Decimal("12345678901234567890.123456789"), flag=True, day=date(2026, 1, 1),
         seen_at=datetime(2026, 1, 1, 0, 0, 0), name='quote " comma , done', notes="line1\nline2\r\nline3",
         ratio=1.0000000000000002, body="unbounded", code="ab"),
    _row(2, name="", notes=None, flag=False, amount=Decimal("0.00"), seen_at=datetime(2026, 1, 1, 12, 0, 0, 1)),
    _row(3, name="Ñandú 🚀 夏", notes='""', day=date(1999, 12, 31)),
    _row(4),  # every packed column but the key and cursor null
    _row(5, name="NULL", notes=",,,", big=-1),
    _row(6, name="  padded  ", notes='a "quoted" word\n'),
    _row(7, changed_at=None, name="no cursor"),  # the no-cursor segment
    _row(None, name="no key"),  # the rejects segment
    *[_row(i, name=f"r{i}", amount=Decimal(i) / 100) for i in range(8, 20)],
]


@pytest.fixture(scope="module")
def edge_db(redshift_sandbox):
    info = {**redshift_sandbox.conn_info, "database": f"t_{uuid.uuid4().hex[:12]}"}
    ensure_database(info)
    with transaction(info) as cur:
        cur.execute(DDL)
        cur.executemany(f"INSERT INTO public.edge VALUES ({', '.join(['%s'] * len(COLUMNS))})", ROWS)
    return info


@pytest.fixture(scope="module")
def reader(edge_db, write_config):
    config = load_config(path=write_config({"data_sources": {"redshift": {
        "host": edge_db["host"], "port": edge_db["port"], "database": edge_db["database"],
        "username": edge_db["user"], "password": edge_db["password"], "chunk_rows": 3,
        "tables": [{"name": "edge", "primary_key": ["id"], "cursor": "changed_at"}]}}}))
    rs = settings(config, 'redshift')
    conn = connection.connect(rs)
    plan = catalog.plan_table(rs, rs.table("edge"), catalog.read_catalog(conn.cursor(), "public", "edge"))

    def read(packed: bool) -> list:
        chosen = plan if packed else dataclasses.replace(plan, packed=())
        return list(ChunkReader(conn, chosen, None, full=True))

    yield plan, read
    conn.close()


def test_bounded_columns_of_exact_types_are_packed(reader):
    plan, _ = reader
    assert plan.packed == PACKABLE  # not the float, the unbounded text nor the padded char
    assert [c.name for c in plan.loose] == ["ratio", "body", "code"]


def test_packed_chunks_equal_the_drivers_values_across_pages_and_segments(reader):
    plan, read = reader
    packed, plain = read(True), read(False)
    assert [c.segment for c in packed] == [c.segment for c in plain]
    assert {c.segment for c in packed} == {"rejects", "no_cursor", "cursor"}
    assert sum(c.rows for c in packed) == len(ROWS)
    for a, b in zip(packed, plain):
        assert a.table.schema == b.table.schema
        assert a.table.to_pylist() == b.table.to_pylist()
        assert a.table.equals(b.table)
        assert a.max_cursor == b.max_cursor
    rows = {r["id"]: r for c in packed for r in c.table.to_pylist()}
    assert rows[1]["name"] == 'quote " comma , done' and rows[1]["notes"] == "line1\nline2\r\nline3"
    assert rows[2]["name"] == "" and rows[2]["notes"] is None  # empty string and null stay apart
    assert rows[5]["name"] == "NULL" and rows[6]["name"] == "  padded  "
    assert rows[1]["changed_at"] == (T0 + timedelta(minutes=1)).astimezone(timezone.utc)
    assert rows[1]["wide"] == Decimal("12345678901234567890.123456789")
    assert rows[1]["ratio"] == 1.0000000000000002


def test_fewer_than_two_packable_columns_pack_nothing():
    one = [catalog.Column("id", "integer"), catalog.Column("ratio", "double precision"), catalog.Column("body", "text")]
    assert catalog.pack_columns(one) == ()
    wide = [catalog.Column(f"c{i}", "character varying", length=20000) for i in range(4)]
    assert catalog.pack_columns(wide) == ()  # one fits Redshift's 65535 bytes (quotes doubled), a second would not
    assert catalog.pack_columns([*wide[:1], catalog.Column("n", "bigint"), catalog.Column("d", "date")]) == ("c0", "n", "d")


def test_a_parse_that_loses_rows_is_a_one_line_error():
    columns = [catalog.Column("a", "integer"), catalog.Column("b", "integer")]
    assert arrow.parse_packed(columns, ["1,2", "3,4"]).to_pylist() == [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    text = [catalog.Column("a", "integer"), catalog.Column("b", "character varying", length=5),
            catalog.Column("c", "character varying", length=5)]
    assert arrow.parse_packed(text, ['1,"x",']).to_pylist() == [{"a": 1, "b": "x", "c": None}]
    assert arrow.parse_packed(columns, []).schema == pa.schema([("a", pa.int32()), ("b", pa.int32())])
    with pytest.raises(SourceError, match="pack_rows"):
        arrow.parse_packed(columns, ['1,"2\n3', "4,5"])  # an unbalanced quote swallows the next line


def test_keyset_page_is_an_index_range_from_the_last_cursor(edge_db, reader):
    """The page after (cursor, key) starts the index scan there, not at the table's beginning."""
    plan, _ = reader
    high = datetime(2027, 1, 1, tzinfo=timezone.utc)
    sql, params = statements.keyset_statement(plan, None, high, [T0, 5], 3)
    with transaction(edge_db) as cur:
        cur.execute("CREATE INDEX IF NOT EXISTS edge_changed_at ON public.edge (changed_at)")
        cur.execute("SET LOCAL enable_seqscan = off")  # 20 rows: make the planner show its index use
        cur.execute("EXPLAIN " + sql, params)
        text = "\n".join(row[0] for row in cur.fetchall())
    conditions = [line for line in text.splitlines() if "Index Cond" in line]
    assert conditions and ">=" in conditions[0], text
