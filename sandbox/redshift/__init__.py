"""The Redshift stand-in: a real PostgreSQL behind pgbouncer that redshift_connector talks to.

Three source tables (marketing_campaigns, customer_behavior, web_analytics) are seeded
deterministically from a seed, with dirty rows planted at known rates; `advance` moves the
source's clock on (new and restated rows, late events); `manifest` measures the dirty rows.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import generate
from .db import ensure_database
from .generate import add_column, advance
from .manifest import manifest
from .server import (Layout, SandboxError, conn_info, ensure_running, is_running, locked, read_state,
                     stop, write_state)

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "sandbox" / "redshift"

__all__ = ["start", "stop", "is_running", "advance", "manifest", "add_column", "write_manifest",
           "SandboxError", "DEFAULT_DATA_DIR"]


def start(data_dir: Path = DEFAULT_DATA_DIR, port: int = 5439, pg_port: int = 5440, seed: int = 42,
          scale: int = 1, events: int | None = None) -> dict:
    """Start (initialising and seeding on first use) and return {host, port, database, user, password}.

    Idempotent: a running instance on the same ports is returned as is; existing data is reused
    (seed/scale/events only apply to an empty data dir). Raises SandboxError (port busy, ...).
    """
    layout = Layout(data_dir)
    info = conn_info(port)
    with locked(layout):
        state = read_state(layout)
        if state.get("seeded") and is_running(data_dir) and \
                (state.get("port"), state.get("pg_port")) == (port, pg_port):
            return info
        created = ensure_running(data_dir, port, pg_port)
        if created or not read_state(layout).get("seeded"):
            ensure_database(info)
            counts = generate.seed(info, seed=seed, scale=scale, events=events)
            write_state(layout, seeded=True, seed=seed, scale=scale,
                        events=generate.event_count(scale, events), seeded_rows=counts)
            write_manifest(data_dir, info)
    return info


def write_manifest(data_dir: Path, info: dict) -> dict:
    """Measure the dirty-data counts and store them in <data_dir>/manifest.json."""
    result = manifest(info)
    Layout(data_dir).manifest.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result
