"""What a Redshift load must leave behind, asserted against the source itself."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from extract_load.config import Config
from sandbox.redshift.db import connect

KEYS = {"marketing_campaigns": ["campaign_id", "date"], "customer_behavior": ["event_id"],
        "web_analytics": ["date", "page_path"]}
NUMERIC = ("numeric", "integer", "bigint", "smallint")
TEMPORAL = ("date", "timestamp without time zone", "timestamp with time zone")


def source_query(db, sql: str, params=None) -> list:
    conn = connect(db.conn_info)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = cur.fetchall()
        conn.rollback()
        return [list(r) for r in rows]
    finally:
        conn.close()


def source_columns(db, table: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in source_query(
        db, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = %s ORDER BY ordinal_position", (table,))]


def norm(value):
    """Comparable form: aware timestamps as naive UTC, Decimals normalised."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return value.normalize()
    return value


def _aggregates(columns: list[tuple[str, str]], quote: str) -> list[tuple[str, str]]:
    out = [("rows", "COUNT(*)")]
    for name, data_type in columns:
        q = f"{quote}{name}{quote}"
        out.append((f"nulls.{name}", f"COUNT(*) - COUNT({q})"))
        if data_type in NUMERIC:
            out.append((f"sum.{name}", f"SUM({q})"))
        if data_type in TEMPORAL:
            out += [(f"min.{name}", f"MIN({q})"), (f"max.{name}", f"MAX({q})")]
    return out


def _spark_value_sql(name: str, data_type: str) -> str:
    # timestamps leave Spark as naive UTC wall-clock values, whatever the Python process's zone
    if data_type == "timestamp with time zone":
        return f"CAST(`{name}` AS TIMESTAMP_NTZ)"
    return f"`{name}`"


def profiles(spark, config: Config, db, table: str) -> tuple[dict, dict]:
    """(source, bronze) profiles: rows, per-column nulls, numeric sums, min/max of dates and times.

    The source side is its distinct rows with a full key: what bronze must hold.
    """
    columns = source_columns(db, table)
    keys = KEYS[table]
    aggs = _aggregates(columns, '"')
    where = " AND ".join(f'"{k}" IS NOT NULL' for k in keys)
    src = source_query(db, f"SELECT {', '.join(a for _, a in aggs)} FROM (SELECT DISTINCT * FROM public.{table} WHERE {where}) d")[0]
    bronze_name = config.bronze_table("redshift", table)
    typed = ", ".join(f"{_spark_value_sql(n, t)} AS `{n}`" for n, t in columns)
    spark_aggs = _aggregates(columns, "`")
    row = spark.sql(f"SELECT {', '.join(a for _, a in spark_aggs)}, COUNT(DISTINCT {', '.join(f'`{k}`' for k in keys)}) "
                    f"FROM (SELECT {typed} FROM {bronze_name})").first()
    source = {name: norm(v) for (name, _), v in zip(aggs, src)}
    bronze = {name: norm(v) for (name, _), v in zip(spark_aggs, row[:-1])}
    bronze["distinct_keys"] = row[-1]
    return source, bronze


def sample_rows(spark, config: Config, db, table: str, n: int = 25) -> tuple[dict, dict]:
    """(source, bronze) rows by key for a sample: deterministic picks plus rows carrying non-ASCII text."""
    columns = source_columns(db, table)
    keys = KEYS[table]
    names = [c for c, _ in columns]
    where = " AND ".join(f'"{k}" IS NOT NULL' for k in keys)
    texts = [c for c, t in columns if t == "character varying"]
    unicode = " OR ".join(f"\"{c}\" ~ '[^\\x01-\\x7f]'" for c in texts)
    key_expr = " || '|' || ".join(f'CAST("{k}" AS varchar)' for k in keys)
    sql = (f"(SELECT * FROM (SELECT DISTINCT * FROM public.{table} WHERE {where}) a ORDER BY md5({key_expr}) LIMIT {n}) UNION "
           f"(SELECT * FROM (SELECT DISTINCT * FROM public.{table} WHERE {where} AND ({unicode})) b ORDER BY md5({key_expr}) LIMIT 10)")
    rows = source_query(db, sql)
    source = {tuple(r[names.index(k)] for k in keys): [norm(v) for v in r] for r in rows}
    first = keys[0]
    values = sorted({k[0] for k in source}, key=str)
    typed = ", ".join(f"{_spark_value_sql(n_, t)} AS `{n_}`" for n_, t in columns)
    frame = spark.sql(f"SELECT {typed} FROM {config.bronze_table('redshift', table)}")
    frame = frame.where(frame[first].isin(values))
    bronze = {}
    for r in frame.collect():
        key = tuple(r[k] for k in keys)
        if key in source:
            bronze[key] = [norm(r[c]) for c in names]
    has_unicode = any(isinstance(v, str) and any(ord(ch) > 127 for ch in v) for r in source.values() for v in r)
    assert has_unicode, f"{table}: the sample should carry non-ASCII text"
    return source, bronze


def assert_bronze_matches_source(spark, config: Config, db, table: str, exact_rejects: bool = True) -> None:
    source, bronze = profiles(spark, config, db, table)
    assert bronze["distinct_keys"] == bronze["rows"], f"{table}: duplicate keys in bronze"
    diffs = {k: (source[k], bronze.get(k)) for k in source if source[k] != bronze.get(k)}
    assert not diffs, f"{table}: bronze differs from source (source, bronze): {diffs}"
    src_rows, bronze_rows = sample_rows(spark, config, db, table)
    assert src_rows == bronze_rows
    assert_rejects_are_the_null_key_rows(spark, config, db, table, exact_rejects)


def assert_rejects_are_the_null_key_rows(spark, config: Config, db, table: str, exact: bool = True) -> None:
    """Every distinct source row with a null key part is in the rejects table; every reject has a null key.

    `exact`: nothing else either. After the source restated a null-key row, the rejects table (an
    audit log) holds its earlier version too, so later loads check inclusion.
    """
    columns = source_columns(db, table)
    keys = KEYS[table]
    null_key = " OR ".join(f'"{k}" IS NULL' for k in keys)
    src = source_query(db, f"SELECT DISTINCT * FROM public.{table} WHERE {null_key}")
    typed = ", ".join(f"{_spark_value_sql(n, t)} AS `{n}`" for n, t in columns)
    rejects = spark.sql(f"SELECT DISTINCT {typed} FROM {config.bronze_table('redshift', table)}__rejects").collect()
    as_set = lambda rows: sorted(tuple(str(norm(v)) for v in r) for r in rows)  # noqa: E731
    names = [n for n, _ in columns]
    assert all(any(r[names.index(k)] is None for k in keys) for r in rejects), f"{table}: a reject has a full key"
    if exact:
        assert as_set(rejects) == as_set(src), f"{table}: rejects differ from the source's null-key rows"
    else:
        missing = set(as_set(src)) - set(as_set(rejects))
        assert not missing, f"{table}: null-key source rows missing from rejects: {sorted(missing)[:3]}"
