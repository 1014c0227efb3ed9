"""Connection, catalog, SQL generation, chunked reading and Arrow conversion for Redshift.

Every statement is built here from names read back from `information_schema` (never from the
config text itself), with identifiers double-quoted and values bound as `%s` parameters. The SQL
is the subset Redshift and PostgreSQL both accept: no row-value comparisons, no `FETCH FIRST`,
no `::` casts, no Redshift-only functions outside `unload_statement`.
"""
from __future__ import annotations

import logging
import math
import queue
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable, Iterator

import pyarrow as pa

from extract_load.config import RedshiftConfig, RedshiftTableConfig
from extract_load.errors import ConfigError, SourceError
from extract_load.sources.redshift import settings

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ connection

def connection_kwargs(rs: RedshiftConfig) -> dict:
    """Keyword arguments for `redshift_connector.connect` from the config (password included)."""
    kwargs: dict[str, Any] = {"database": rs.database, "port": rs.port, "timeout": settings.CONNECT_TIMEOUT_S}
    if rs.host:
        kwargs["host"] = rs.host
    if rs.auth == "iam":
        # the driver calls GetClusterCredentials for db_user with the AWS credential chain (or profile)
        kwargs.update(iam=True, cluster_identifier=rs.cluster_identifier, region=rs.region,
                      db_user=rs.db_user or rs.username, user=rs.db_user or rs.username or "",
                      password="")
        if rs.aws_profile:
            kwargs["profile"] = rs.aws_profile
    else:
        kwargs.update(user=rs.username, password=rs.password.get_secret_value() if rs.password else None)
    if rs.ssl.enabled:
        # explicit verify-full: the driver's own default only warns on a host name mismatch
        kwargs.update(ssl=True, sslmode="verify-full" if rs.ssl.verify else "verify-ca")
    else:
        kwargs["ssl"] = False
    return kwargs


def describe_target(rs: RedshiftConfig) -> str:
    host = rs.host or f"cluster {rs.cluster_identifier} ({rs.region})"
    return f"host {host}:{rs.port} database {rs.database}"


def one_line_cause(exc: BaseException, secret: str | None = None) -> str:
    """The driver's error as one line: the server's message (`M`) when there is one."""
    args = getattr(exc, "args", ())
    message = ""
    if args and isinstance(args[0], dict):
        message = str(args[0].get("M") or args[0])
    elif args:
        message = " ".join(str(a) for a in args if a is not None)
        inner = getattr(exc, "__cause__", None) or (args[-1] if isinstance(args[-1], BaseException) else None)
        if isinstance(inner, BaseException) and str(inner) not in message:
            message += f" ({inner})"
    message = message or type(exc).__name__
    message = " ".join(message.split())
    if secret:
        message = message.replace(secret, "***")
    return message


def connect(rs: RedshiftConfig):
    """An autocommit connection; raises SourceError (one line: host, database, cause)."""
    import redshift_connector

    kwargs = connection_kwargs(rs)
    secret = rs.password.get_secret_value() if rs.password else None
    try:
        conn = redshift_connector.connect(**kwargs)
        conn.autocommit = True  # each chunk query is its own snapshot: no transaction held across a load
        return conn
    except Exception as exc:  # the driver raises many types (InterfaceError, ProgrammingError, OSError, boto)
        raise SourceError(f"Redshift connection failed ({describe_target(rs)}): {one_line_cause(exc, secret)}") from None


# ------------------------------------------------------------------ catalog and plan

@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    precision: int | None = None
    scale: int | None = None
    length: int | None = None  # declared maximum of a character type (bytes on Redshift)

    @property
    def temporal(self) -> bool:
        return self.data_type in settings.TEMPORAL_TYPES

    def arrow_type(self) -> pa.DataType:
        t = self.data_type
        if t in ("numeric", "decimal"):
            p, s = (self.precision, self.scale) if self.precision else settings.UNBOUNDED_NUMERIC
            return pa.decimal128(p, s or 0)
        return {
            "smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64(),
            "real": pa.float32(), "double precision": pa.float64(), "boolean": pa.bool_(),
            "date": pa.date32(), "timestamp without time zone": pa.timestamp("us"),
            "timestamp with time zone": pa.timestamp("us", tz="UTC"),
        }.get(t, pa.string())

    def dlt_hint(self) -> dict:
        hint: dict[str, Any] = {"name": self.name, "data_type": settings.DLT_TYPES.get(self.data_type, "text"),
                                "nullable": True}
        if hint["data_type"] == "decimal":
            p, s = (self.precision, self.scale) if self.precision else settings.UNBOUNDED_NUMERIC
            hint.update(precision=p, scale=s or 0)
        elif self.data_type in settings.INT_BITS:
            hint["precision"] = settings.INT_BITS[self.data_type]
        elif hint["data_type"] == "timestamp":
            hint.update(precision=6, timezone=self.data_type == "timestamp with time zone")
        return hint


CATALOG_SQL = (
    "SELECT column_name, data_type, numeric_precision, numeric_scale, character_maximum_length "
    "FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
    "ORDER BY ordinal_position"
)


def read_catalog(cursor, schema: str, table: str) -> list[Column]:
    """The table's columns from information_schema; SourceError naming the table if it is absent."""
    cursor.execute(CATALOG_SQL, (schema.lower(), table.lower()))
    rows = cursor.fetchall()
    if not rows:
        raise SourceError(f"Redshift table {schema}.{table} not found (no columns in information_schema.columns "
                          f"visible to this user): check data_sources.redshift.tables name and schema")
    out = []
    for name, data_type, precision, scale, length in rows:
        if data_type in ("numeric", "decimal"):
            out.append(Column(name, data_type, int(precision) if precision else None, int(scale) if scale is not None else None))
        else:
            out.append(Column(name, data_type, length=int(length) if length else None))
    return out


def quote(name: str) -> str:
    """A double-quoted identifier (names come from the catalog, quotes doubled anyway)."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TablePlan:
    """One table resolved against the catalog: every name below exists in the source."""

    schema: str
    table: str
    columns: tuple[Column, ...]
    keys: tuple[str, ...]
    cursor: Column
    version_column: str
    partition_by: tuple[str, ...]
    derived_dates: tuple[str, ...]  # partition columns not in the source: UTC date of the cursor
    lookback: timedelta
    chunk_rows: int
    packed: tuple[str, ...] = ()  # columns fetched together as one CSV text (see `pack_columns`)

    @property
    def qualified(self) -> str:
        return f"{quote(self.schema)}.{quote(self.table)}"

    @property
    def select_list(self) -> str:
        return ", ".join(quote(c.name) for c in self.columns)

    @property
    def packed_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.name in self.packed)

    @property
    def loose(self) -> tuple[Column, ...]:
        """The columns a read fetches as themselves (all of them when nothing is packed)."""
        return tuple(c for c in self.columns if c.name not in self.packed)

    @property
    def fetch_list(self) -> str:
        """What a chunk query selects: the packed columns as one text, then the loose ones."""
        if not self.packed:
            return self.select_list
        fields = " || ',' || ".join(f"COALESCE({_pack_expression(c)[0]}, '')" for c in self.packed_columns)
        return ", ".join([f"{fields} AS {quote(settings.PACKED_ALIAS)}", *(quote(c.name) for c in self.loose)])

    @property
    def fetch_width(self) -> int:
        return len(self.loose) + (1 if self.packed else 0)

    def dlt_columns(self) -> dict:
        hints = {c.name: c.dlt_hint() for c in self.columns}
        for name in self.derived_dates:
            hints[name] = {"name": name, "data_type": "date", "nullable": True}
        return hints


def plan_table(rs: RedshiftConfig, table: RedshiftTableConfig, columns: list[Column]) -> TablePlan:
    """Check the config's column names against the catalog; SourceError naming the first unknown one."""
    by_name = {c.name.lower(): c for c in columns}
    where = f"{rs.schema_}.{table.name}"

    def column(name: str, role: str) -> Column:
        found = by_name.get(name.lower())
        if found is None:
            raise SourceError(f"Redshift table {where} has no column {name!r} (configured as {role}); "
                              f"columns are {', '.join(c.name for c in columns)}")
        return found

    keys = tuple(column(k, "primary_key").name for k in table.primary_key)
    cursor = column(table.cursor, "cursor")
    version = column(table.version_column or table.cursor, "version_column").name
    partition, derived = [], []
    for name in table.partition_by:
        if name.lower() in by_name:
            partition.append(by_name[name.lower()].name)
        elif cursor.temporal:
            partition.append(name)
            derived.append(name)
        else:
            raise SourceError(f"Redshift table {where}: partition column {name!r} is neither a source column nor "
                              f"derivable (the cursor {cursor.name} is not a date or timestamp)")
    lookback = timedelta(minutes=table.lookback_minutes, days=table.lookback_days)
    if lookback and not cursor.temporal:
        raise ConfigError(f"data_sources.redshift.tables[{table.name}]: lookback needs a date or timestamp cursor, "
                          f"{cursor.name} is {cursor.data_type}")
    return TablePlan(rs.schema_, table.name, tuple(columns), keys, cursor, version, tuple(partition), tuple(derived),
                     lookback, table.chunk_rows or rs.chunk_rows, pack_columns(columns) if rs.pack_rows else ())


# ------------------------------------------------------------------ packed rows

def _pack_expression(col: Column) -> tuple[str, int] | None:
    """SQL rendering `col` as one CSV field that Arrow's CSV reader parses back to the same value,
    with the field's widest size in bytes; None for a column better fetched as itself.

    Floating point stays out (its text form can drop digits on Redshift), as do unbounded text
    and the types Arrow has no exact text form for."""
    c, t = quote(col.name), col.data_type
    if t in settings.INT_BITS:
        return f"CAST({c} AS VARCHAR)", 20
    if t in ("numeric", "decimal") and col.precision:
        return f"CAST({c} AS VARCHAR)", col.precision + 2
    if t == "boolean":
        return f"CASE WHEN {c} THEN 'true' WHEN NOT {c} THEN 'false' END", 5
    if t == "date":
        return f"TO_CHAR({c}, 'YYYY-MM-DD')", 10
    if t == "timestamp without time zone":
        return f"TO_CHAR({c}, '{settings.PACKED_TIMESTAMP}')", 26
    if t == "timestamp with time zone":
        return f"TO_CHAR({c} AT TIME ZONE 'UTC', '{settings.PACKED_TIMESTAMP}')", 26
    if t == "character varying" and col.length:
        return f"'\"' || REPLACE({c}, '\"', '\"\"') || '\"'", 2 * col.length + 2
    return None


def pack_columns(columns: list[Column] | tuple[Column, ...]) -> tuple[str, ...]:
    """The columns a read fetches as one CSV text per row, in table order, within Redshift's
    VARCHAR limit (quotes doubled in the worst case).

    Why: the driver decodes every value of every row in Python (most of a load's CPU), so one
    text per row, parsed by Arrow's C++ CSV reader, is several times cheaper. Fewer than two
    packable columns gain nothing: nothing is packed then."""
    packed, width = [], 0
    for col in columns:
        found = _pack_expression(col)
        if found is not None and width + found[1] + 1 <= settings.PACKED_MAX_BYTES:
            packed.append(col.name)
            width += found[1] + 1
    return tuple(packed) if len(packed) >= 2 else ()


# ------------------------------------------------------------------ cursor values

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


# ------------------------------------------------------------------ SQL

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
    query = f"SELECT {plan.select_list} FROM {plan.qualified}" + (f" WHERE {' AND '.join(where)}" if where else "")
    target = f"{s3_prefix.rstrip('/')}/{plan.table}/{load_id}/"
    sql = (f"UNLOAD ('{query.replace(chr(39), chr(39) * 2)}') TO '{target}' IAM_ROLE '{iam_role}' "
           f"FORMAT AS PARQUET MAXFILESIZE {settings.UNLOAD_MAX_FILE_SIZE_MB} MB")
    return sql, target


# ------------------------------------------------------------------ Arrow

def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _array(col: Column, values) -> pa.Array:
    arrow_type = col.arrow_type()
    if arrow_type == pa.string():
        try:
            return pa.array(values, type=arrow_type)  # str and None, the usual case: no Python pass
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            values = [_text(v) for v in values]
    return pa.array(values, type=arrow_type)


def to_arrow(plan: TablePlan, rows: list) -> pa.Table:
    """One chunk (rows of every column, in table order) as an Arrow table typed from the catalog
    (so all-null columns keep their type)."""
    columns = list(zip(*rows)) if rows else [() for _ in plan.columns]
    return _typed(plan, {col.name: _array(col, values) for col, values in zip(plan.columns, columns)})


def decode(plan: TablePlan, rows: list) -> pa.Table:
    """One fetched chunk as Arrow, whatever `plan.fetch_list` selected."""
    if not plan.packed:
        return to_arrow(plan, rows)
    packed = parse_packed(list(plan.packed_columns), [row[0] for row in rows])
    arrays = {name: packed.column(name) for name in plan.packed}
    loose = list(zip(*(row[1:] for row in rows))) if rows else [() for _ in plan.loose]
    arrays.update({col.name: _array(col, values) for col, values in zip(plan.loose, loose)})
    return _typed(plan, arrays)


def parse_packed(columns: list[Column], texts: list[str]) -> pa.Table:
    """The packed texts of a chunk, one CSV line each, parsed and typed by Arrow.

    Unquoted empty fields are nulls; strings are always quoted, so an empty string stays one."""
    from pyarrow import csv

    if not texts:
        return pa.table({c.name: pa.array([], type=c.arrow_type()) for c in columns})
    # timestamps arrive as UTC wall time: parsed naive, then marked UTC (a cast, not a conversion)
    types = {c.name: pa.timestamp("us") if c.data_type == "timestamp with time zone" else c.arrow_type()
             for c in columns}
    hint = "set data_sources.redshift.pack_rows: false and report this"
    try:
        table = csv.read_csv(
            # every line ended: unended, a last empty field after a quoted one reads as "", not null
            pa.BufferReader(("\n".join(texts) + "\n").encode("utf-8")),
            read_options=csv.ReadOptions(column_names=[c.name for c in columns]),
            parse_options=csv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
            convert_options=csv.ConvertOptions(column_types=types, null_values=[""], strings_can_be_null=True,
                                               quoted_strings_can_be_null=False, true_values=["true"],
                                               false_values=["false"]))
    except pa.ArrowInvalid as exc:
        raise SourceError(f"packed rows could not be parsed ({str(exc).splitlines()[0]}); {hint}") from None
    if table.num_rows != len(texts):
        raise SourceError(f"packed rows: parsed {table.num_rows} rows from {len(texts)} fetched; {hint}")
    return pa.table({c.name: table.column(c.name).cast(c.arrow_type()) for c in columns})


def _typed(plan: TablePlan, arrays: dict) -> pa.Table:
    """The chunk in table order with the catalog's types, plus the derived date columns."""
    fields = [pa.field(c.name, c.arrow_type()) for c in plan.columns]
    table = pa.Table.from_arrays([arrays[c.name] for c in plan.columns], schema=pa.schema(fields))
    for name in plan.derived_dates:
        # the cursor's underlying value is UTC for timestamptz (and taken as is for timestamp)
        table = table.append_column(pa.field(name, pa.date32()),
                                    table.column(plan.cursor.name).cast(pa.date32()))
    return table


# ------------------------------------------------------------------ chunked reading

@dataclass
class Chunk:
    number: int
    segment: str  # rejects | no_cursor | cursor
    table: pa.Table
    rows: int
    nbytes: int
    max_cursor: Any = None


@dataclass
class ChunkReader:
    """Reads one table's window as bounded chunks; each query returns at most `chunk_rows` rows.

    Order: null-key rows (bound for rejects), then rows without a cursor value, then the cursor
    range in (cursor, key) keyset order up to the high-water mark taken at the start. So a saved
    cursor always means every earlier part of the window is in bronze.
    """

    conn: Any
    plan: TablePlan
    start: Any  # inclusive lower bound; None for a full load
    full: bool
    on_chunk: Callable[[Chunk], None] | None = None
    queries: int = 0
    window_rows: int | None = None
    high: Any = None
    _number: int = field(default=0, repr=False)

    def _run(self, sql: str, params: list) -> list:
        cursor = self.conn.cursor()
        try:
            self.queries += 1
            cursor.execute(sql, params or None)
            return cursor.fetchall() or []
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"Redshift query on {self.plan.schema}.{self.plan.table} failed: {one_line_cause(exc)}") from None
        finally:
            cursor.close()

    def stats(self) -> tuple[int, Any]:
        sql, params = stats_statement(self.plan, self.start)
        (count, high), = self._run(sql, params)
        self.window_rows, self.high = int(count), high
        return self.window_rows, self.high

    def _emit(self, segment: str, rows: list) -> Chunk:
        self._number += 1
        table = decode(self.plan, rows)
        max_cursor = None
        if segment == "cursor":
            max_cursor = table.column(self.plan.cursor.name)[-1].as_py()
        chunk = Chunk(self._number, segment, table, len(rows), table.nbytes, max_cursor)
        if self.on_chunk is not None:
            self.on_chunk(chunk)
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        if self.window_rows is None:
            self.stats()
        limit = self.plan.chunk_rows
        keys = list(self.plan.keys)
        offset = 0
        if self.high is not None or self.full:
            while True:
                sql, params = null_key_statement(self.plan, self.start, self.high, self.full, limit, offset)
                rows = self._run(sql, params)
                if rows:
                    yield self._emit("rejects", rows)
                if len(rows) < limit:
                    break
                offset += limit
        after = None
        while True:
            sql, params = null_cursor_statement(self.plan, after, limit)
            rows = self._run(sql, params)
            if rows:
                chunk = self._emit("no_cursor", rows)
                after = _last(chunk.table, keys)
                yield chunk
            if len(rows) < limit:
                break
        if self.high is None:
            return
        order = [self.plan.cursor.name, *keys]
        after = None
        while True:
            sql, params = keyset_statement(self.plan, self.start, self.high, after, limit)
            rows = self._run(sql, params)
            if rows:
                chunk = self._emit("cursor", rows)
                after = _last(chunk.table, order)
                yield chunk
            if len(rows) < limit:
                break


def _last(table: pa.Table, names: list[str]) -> list:
    """The last row's values of `names`: where the next keyset page starts."""
    return [table.column(name)[-1].as_py() for name in names]


class Prefetch:
    """Iterates `chunks` in a thread of its own, at most `depth` chunks ahead of the consumer.

    Why: the driver decodes rows in pure Python while the loader mostly waits on Spark (a py4j
    call releases the GIL), so reading the next chunks overlaps the MERGE of the current ones.
    Memory stays bounded by the chunk size: `depth` queued chunks plus the one being read. An
    error in the reader (the driver's, or an `on_chunk` hook's) is raised to the consumer at the
    point where that chunk would have arrived, so failure behaviour is the same as reading inline.
    `close()` stops the reader; call it before the connection is used for anything else.
    """

    def __init__(self, chunks, depth: int = 1):
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._read, args=(chunks,), name="redshift-reader", daemon=True)
        self._thread.start()

    def _read(self, chunks) -> None:
        try:
            for chunk in chunks:
                if not self._put(("chunk", chunk)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(("error", exc))
            return
        self._put(("end", None))

    def _put(self, message) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> "Prefetch":
        return self

    def __next__(self) -> Chunk:
        if self._finished:
            raise StopIteration
        kind, value = self._queue.get()
        if kind == "chunk":
            return value
        self._finished = True
        self._thread.join()
        if kind == "error":
            raise value
        raise StopIteration

    def close(self) -> None:
        self._finished = True
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.2)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self) -> "Prefetch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
