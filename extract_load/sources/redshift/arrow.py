"""Fetched rows as Arrow tables typed from the catalog (all-null columns keep their type)."""
from __future__ import annotations

from typing import Any

import pyarrow as pa

from extract_load.errors import SourceError

from .catalog import Column, TablePlan


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
