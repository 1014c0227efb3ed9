"""The daily DAG end to end with `dag.test()`: every table ingested from the stand-ins, source
freshness, dbt build and docs all succeed, and the ops tables hold the run's metrics.

The tasks run in this process (dag.test runs them in-process), so they share the suite's Spark
session and its embedded metastore, as a local `dag.test()` would.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from extract_load.config import load_config
from tests.orchestration.conftest import load_dagbag


@pytest.fixture(scope="module")
def small_hubspot(tmp_path_factory):
    """A HubSpot stand-in of its own with few contacts, so the run stays short."""
    from sandbox import hubspot as hubspot_standin
    from tests.conftest import free_port

    data_dir = tmp_path_factory.mktemp("hubspot-e2e")
    for attempt in range(3):
        try:
            url = hubspot_standin.start(data_dir, port=free_port(), seed=7, scale=1, token="e2e-token", contacts=150)
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield url
    finally:
        hubspot_standin.stop(data_dir)


def test_daily_dag_runs_ingestion_dbt_build_and_docs(spark, airflow_db, redshift_database, small_hubspot,
                                                     write_config, dag_config_env, monkeypatch, run_dir, tmp_path):
    db = redshift_database(events=1500)
    path = write_config({
        "work_dir": str(run_dir / "work_e2e"),
        "data_sources": {
            "redshift": {"host": db.host, "port": db.port, "database": db.database, "username": db.user,
                         "password": db.password},
            "hubspot": {"base_url": small_hubspot, "api_key": "e2e-token"},
        },
    }, name="e2e.yaml")
    config = load_config(path=path)
    dag_config_env(path)
    # Retries as in production, but seconds apart: a loaded machine can time out a connection.
    monkeypatch.setenv("ELT_TASK_RETRIES", "3")
    monkeypatch.setenv("ELT_RETRY_DELAY_SECONDS", "15")
    monkeypatch.setenv("ELT_DBT_TARGET_PATH", str(tmp_path / "dbt-target"))

    bag = load_dagbag()
    assert bag.import_errors == {}
    dag = bag.dags["pyspark_delta_etl"]
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    t0 = time.monotonic()
    run = dag.test()
    elapsed = time.monotonic() - t0

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {t.task_id: "success" for t in dag.tasks}, states
    assert run.state == "success"

    runs = spark.table("ops.ingest_runs").where(f"started_at >= timestamp'{started:%Y-%m-%d %H:%M:%S}'").collect()
    assert {(r["source"], r["object"]) for r in runs} == set(config.source_tables())
    assert all(r["status"] == "success" and r["rows_extracted"] > 0 for r in runs), [r.asDict() for r in runs]
    hubspot = [r for r in runs if r["source"] == "hubspot"]
    assert all(r["requests"] > 0 for r in hubspot)

    label = f"pyspark_delta_etl/{run.run_id}"
    dq = spark.table("ops.dq_results").where(f"run_label = '{label}'").collect()
    commands = {r["command"] for r in dq}
    assert commands == {"source freshness", "build"}
    freshness = {r["table_name"] for r in dq if r["rule"] == "freshness"}
    assert {f"{s}.{t}" for s, t in config.source_tables()} <= freshness
    assert not [r for r in dq if r["status"] in ("fail", "error", "runtime error")]

    health = spark.table("ops.mart_pipeline_health").collect()
    assert {(r["source"], r["object"]) for r in health} >= set(config.source_tables())
    assert (tmp_path / "dbt-target" / "catalog.json").exists() and (tmp_path / "dbt-target" / "index.html").exists()
    print(f"\npyspark_delta_etl dag.test(): {elapsed:.0f}s")
