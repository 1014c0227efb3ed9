"""Talking to the stand-in the way the loaders do: the official redshift_connector driver."""
from __future__ import annotations

import contextlib
from pathlib import Path

import redshift_connector

SCHEMA_SQL = Path(__file__).with_name("schema.sql")


def connect(conn_info: dict, **kwargs) -> redshift_connector.Connection:
    """Open a driver connection; the stand-in speaks plain TCP on loopback, hence ssl=False."""
    params = {k: conn_info[k] for k in ("host", "port", "database", "user", "password")}
    return redshift_connector.connect(**params, ssl=False, **kwargs)


@contextlib.contextmanager
def transaction(conn_info: dict):
    """A cursor inside one transaction: committed on success, rolled back on error."""
    conn = connect(conn_info)
    try:
        cursor = conn.cursor()
        yield cursor
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def statements(sql: str) -> list[str]:
    """Split a script on ';' at line end; the driver runs one statement per execute."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";\n") if part.strip().rstrip(";")]


def literal(value: str) -> str:
    """A SQL string literal for our own constants (never for user input)."""
    return "'" + value.replace("'", "''") + "'"


def text_array(values) -> str:
    return "ARRAY[" + ", ".join(literal(v) for v in values) + "]::varchar[]"


def ensure_database(conn_info: dict) -> bool:
    """Create conn_info's database if missing (through the maintenance db). True if created."""
    conn = connect({**conn_info, "database": "postgres"})
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (conn_info["database"],))
        if cur.fetchone():
            return False
        cur.execute(f'CREATE DATABASE "{conn_info["database"]}" ENCODING \'UTF8\' TEMPLATE template0')
        return True
    finally:
        conn.close()
