"""A third source, added through the protocol alone: registered at run time, catalogued in a
catalog file of its own, configured in an environment file, and landed by the one runner with
cursors, metrics and failure isolation, like the built-in sources. No existing module changes.
"""
from __future__ import annotations

import sqlite3

import pytest
import yaml

from extract_load.ingest import run_ingest
from extract_load.load.state import StateStore
from extract_load.sources import registry
from extract_load.sources.registry import load_config
from tests.fixtures.toy_source import NAME, ToySource


def _source_rows(path) -> dict[int, dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return {r["reading_id"]: dict(r) for r in conn.execute("SELECT * FROM readings")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def toy(write_config, run_dir):
    db = run_dir / "toy_store.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE readings (reading_id INTEGER, sensor TEXT, value REAL, updated_at TEXT)")
    conn.executemany("INSERT INTO readings VALUES (?, ?, ?, ?)", [
        (1, "a", 1.5, "2026-01-01T00:00:01"), (2, "b", -2.0, "2026-01-01T00:00:02"),
        (3, "a", 0.0, "2026-01-01T00:00:03"), (4, "c", None, "2026-01-01T00:00:04"),
        (5, "b", 9.25, "2026-01-01T00:00:05")])
    conn.commit()
    conn.close()
    catalog = run_dir / "toy_catalog.yaml"
    catalog.write_text(yaml.safe_dump({NAME: [
        {"name": "readings", "frequency": "hourly", "key": "reading_id", "cursor": "updated_at"},
        {"name": "missing", "frequency": "daily", "key": "id", "cursor": "updated_at"},
    ]}))
    path = write_config({"lakehouse": {"root": str(run_dir / "lakehouse_toy"), "bronze_schema": "bronze_toy",
                                       "ops_schema": "ops_toy"}, "work_dir": str(run_dir / "work_toy")},
                        name="toy.yaml")
    raw = yaml.safe_load(path.read_text())
    raw["catalog_file"] = str(catalog)
    raw["data_sources"] = {NAME: {"path": str(db)}}
    path.write_text(yaml.safe_dump(raw))
    registry.register(ToySource())
    return {"db": db, "config": load_config(path=path)}


def test_a_registered_source_is_landed_by_the_runner_with_cursor_metrics_and_isolation(spark, toy):
    config, db = toy["config"], toy["db"]
    assert NAME in registry.names()
    runs = {r.object: r for r in run_ingest(spark, config, NAME)}
    # failure isolation: the table the source lacks fails alone, with one line naming it
    missing = runs["missing"]
    assert missing.status == "failed" and "no such table: missing" in missing.error and "\n" not in missing.error
    readings = runs["readings"]
    assert readings.status == "success" and readings.mode == "full", readings.error
    assert (readings.rows_extracted, readings.chunks, readings.rows_inserted) == (5, 3, 5)
    assert readings.cursor_before is None and readings.cursor_after == "2026-01-01T00:00:05"
    bronze = config.bronze_table(NAME, "readings")
    assert bronze == "bronze_toy.toy_store_readings"
    landed = {r["reading_id"]: r.asDict() for r in spark.table(bronze).collect()}
    truth = _source_rows(db)
    assert set(landed) == set(truth)
    for key, row in truth.items():
        assert {k: landed[key][k] for k in row} == row
    assert {"_loaded_at", "_load_id"} <= set(landed[1])
    state = StateStore(spark, config).get(NAME, "readings")
    assert state["cursor"] == "2026-01-01T00:00:05" and state["rows"] == 5
    recorded = spark.table(f"{config.lakehouse.ops_schema}.ingest_runs").where(f"source = '{NAME}'")
    assert {(r.object, r.status) for r in recorded.collect()} == {("readings", "success"), ("missing", "failed")}

    # incremental: only what moved past the cursor is read; an update MERGEs onto its key
    conn = sqlite3.connect(db)
    conn.execute("UPDATE readings SET value = 7.5, updated_at = '2026-01-02T00:00:00' WHERE reading_id = 2")
    conn.execute("INSERT INTO readings VALUES (6, 'd', 3.0, '2026-01-02T00:00:01')")
    conn.commit()
    conn.close()
    again = run_ingest(spark, config, NAME, ["readings"])[0]
    assert again.status == "success" and again.mode == "incremental"
    assert again.cursor_before == "2026-01-01T00:00:05" and again.cursor_after == "2026-01-02T00:00:01"
    assert (again.rows_extracted, again.rows_inserted, again.rows_updated) == (2, 1, 1)
    landed = {r["reading_id"]: r.asDict() for r in spark.table(bronze).collect()}
    truth = _source_rows(db)
    assert set(landed) == set(truth) and landed[2]["value"] == 7.5
