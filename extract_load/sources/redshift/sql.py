"""The SQL a load runs, built from names read back from the catalog (never from the config text
itself): identifiers double-quoted, values bound as `%s` parameters. It is the subset Redshift
and PostgreSQL both accept: no row-value comparisons, no `FETCH FIRST`, no `::` casts, no
Redshift-only functions outside `unload_statement`. Cursor values are kept as text between runs.
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from extract_load.errors import ConfigError

from . import settings
from .catalog import Column, TablePlan, quote


def cursor_text(value: Any) -> str | None:
    """A cursor value as stored in ops.ingest_state (ISO 8601 for dates and times)."""
    if value is None:
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def parse_cursor(text: str | None, column: Column) -> Any:
    """The stored text back as the value the driver binds for this column's type."""
    if text is None:
        return None
    t = column.data_type
    if t == "date":
        return date.fromisoformat(text[:10])
    if t == "timestamp with time zone":
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if t == "timestamp without time zone":
        return datetime.fromisoformat(text).replace(tzinfo=None)
    if t in settings.INT_BITS:
        return int(text)
    if t in ("numeric", "decimal"):
        return Decimal(text)
    if t in ("real", "double precision"):
        return float(text)
    return text


def window_start(stored: Any, plan: TablePlan) -> Any:
    """Where an incremental read starts: the stored cursor minus the table's lookback (inclusive)."""
    if stored is None or not plan.lookback:
        return stored
    if plan.cursor.data_type == "date":
        return stored - timedelta(days=math.ceil(plan.lookback / timedelta(days=1)))
    return stored - plan.lookback


def _not_null(names) -> list[str]:
    return [f"{quote(n)} IS NOT NULL" for n in names]


def _after(names: list[str]) -> str:
    """Keyset predicate (a, b, c) > (%s, %s, %s), expanded: Redshift has no row-value comparison."""
    a = quote(names[0])
    if len(names) == 1:
        return f"{a} > %s"
    return f"({a} > %s OR ({a} = %s AND {_after(names[1:])}))"


def _after_params(values: list) -> list:
    if len(values) == 1:
        return [values[0]]
    return [values[0], values[0]] + _after_params(values[1:])


def _keyset(names: list[str], values: list) -> tuple[str, list]:
    """`_after` plus a redundant `a >= %s`: the OR form alone is no index range (PostgreSQL filters
    the index from its start, so every page rescanned all earlier rows) and no zone-map bound
    (Redshift); the plain bound on the leading column is both."""
    return f"{quote(names[0])} >= %s AND {_after(names)}", [values[0], *_after_params(values)]


def stats_statement(plan: TablePlan, start: Any) -> tuple[str, list]:
    """Row count and high-water mark of the window: the run reads up to that mark, no further."""
    sql = f"SELECT COUNT(*), MAX({quote(plan.cursor.name)}) FROM {plan.qualified}"
    if start is None:
        return sql, []
    return sql + f" WHERE {quote(plan.cursor.name)} >= %s", [start]


def keyset_statement(plan: TablePlan, start: Any, high: Any, after: list | None, limit: int) -> tuple[str, list]:
    """The main read: rows with a cursor and a full key, one keyset page in (cursor, key) order."""
    order = [plan.cursor.name, *plan.keys]
    where = _not_null(order)
    params: list = []
    if start is not None:
        where.append(f"{quote(plan.cursor.name)} >= %s")
        params.append(start)
    where.append(f"{quote(plan.cursor.name)} <= %s")
    params.append(high)
    if after is not None:
        predicate, values = _keyset(order, after)
        where.append(predicate)
        params += values
    sql = (f"SELECT {plan.fetch_list} FROM {plan.qualified} WHERE {' AND '.join(where)} "
           f"ORDER BY {', '.join(quote(c) for c in order)} LIMIT {int(limit)}")
    return sql, params


def null_cursor_statement(plan: TablePlan, after: list | None, limit: int) -> tuple[str, list]:
    """Rows with a key but no cursor value: unknowable whether they changed, so read every run."""
    where = [f"{quote(plan.cursor.name)} IS NULL", *_not_null(plan.keys)]
    params: list = []
    if after is not None:
        predicate, values = _keyset(list(plan.keys), after)
        where.append(predicate)
        params += values
    sql = (f"SELECT {plan.fetch_list} FROM {plan.qualified} WHERE {' AND '.join(where)} "
           f"ORDER BY {', '.join(quote(c) for c in plan.keys)} LIMIT {int(limit)}")
    return sql, params


def null_key_statement(plan: TablePlan, start: Any, high: Any, full: bool, limit: int, offset: int) -> tuple[str, list]:
    """Rows with a null key part (bound for the rejects table), paged by offset: they have no keyset."""
    c = quote(plan.cursor.name)
    null_key = "(" + " OR ".join(f"{quote(k)} IS NULL" for k in plan.keys) + ")"
    params: list = []
    window = []
    if start is not None:
        window.append(f"{c} >= %s")
        params.append(start)
    if high is not None:
        window.append(f"{c} <= %s")
        params.append(high)
    cursor_window = " AND ".join(window) if window else f"{c} IS NOT NULL"
    if full:
        cursor_window = f"({cursor_window} OR {c} IS NULL)"
    sql = (f"SELECT {plan.fetch_list} FROM {plan.qualified} WHERE {null_key} AND {cursor_window} "
           f"ORDER BY {', '.join(str(i + 1) for i in range(plan.fetch_width))} "
           f"LIMIT {int(limit)} OFFSET {int(offset)}")
    return sql, params


_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9_\-./=]*)?$")
_IAM_ROLE = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[A-Za-z0-9_+=,.@/\-]+$")


def sql_literal(value: Any) -> str:
    """A literal for the one place values cannot be bound: the query text inside UNLOAD."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal)) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return "'" + value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00'"
        return "'" + value.strftime("%Y-%m-%d %H:%M:%S.%f") + "'"
    if isinstance(value, date):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def unload_statement(plan: TablePlan, start: Any, high: Any, s3_prefix: str, iam_role: str, load_id: str) -> tuple[str, str]:
    """UNLOAD of the window to Parquet under `<s3_prefix>/<table>/<load_id>/`; returns (sql, target prefix).

    The role needs `s3:PutObject`, `s3:GetBucketLocation` and `s3:ListBucket` on the prefix and
    must be associated with the cluster; the loader's Spark needs read access to the same prefix.
    """
    if not _S3_PREFIX.match(s3_prefix.rstrip("/")):
        raise ConfigError(f"data_sources.redshift.unload.s3_prefix: {s3_prefix!r} is not an s3://bucket/prefix URI")
    if not _IAM_ROLE.match(iam_role):
        raise ConfigError(f"data_sources.redshift.unload.iam_role: {iam_role!r} is not an IAM role ARN")
    if not re.fullmatch(r"[A-Za-z0-9_\-]+", load_id):
        raise ConfigError(f"load id {load_id!r} cannot be part of an S3 prefix")
    c = quote(plan.cursor.name)
    where = []
    if start is not None:
        where.append(f"{c} >= {sql_literal(start)}")
    if high is not None:
        where.append(f"({c} <= {sql_literal(high)} OR {c} IS NULL)")
    # partition columns derived from the cursor are computed here, as the chunked read does in Arrow
    derived = "".join(f", CAST({c} AS DATE) AS {quote(name)}" for name in plan.derived_dates)
    query = f"SELECT {plan.select_list}{derived} FROM {plan.qualified}" + (f" WHERE {' AND '.join(where)}" if where else "")
    target = f"{s3_prefix.rstrip('/')}/{plan.table}/{load_id}/"
    sql = (f"UNLOAD ('{query.replace(chr(39), chr(39) * 2)}') TO '{target}' IAM_ROLE '{iam_role}' "
           f"FORMAT AS PARQUET MAXFILESIZE {settings.UNLOAD_MAX_FILE_SIZE_MB} MB")
    return sql, target
