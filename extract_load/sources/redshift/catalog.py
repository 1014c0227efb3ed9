"""A configured table resolved against Redshift's catalog: its columns, types and how a read
fetches them (most columns packed as one CSV text per row, see `pack_columns`)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyarrow as pa

from extract_load.errors import ConfigError, SourceError

from . import settings
from .config import RedshiftConfig, RedshiftTableConfig


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
