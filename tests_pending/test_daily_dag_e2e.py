"""The daily DAG end to end with `dag.test()`: every table ingested from the stand-ins, source
freshness, dbt build and docs all succeed, and the ops tables hold the run's metrics.

The tasks run in this process (dag.test runs them in-process), so they share the suite's Spark
session and its embedded metastore, as a local `dag.test()` would.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone


from tests.orchestration.conftest import load_dagbag


def test_daily_dag_runs_ingestion_dbt_build_and_docs(spark, airflow_db, pipeline_config, dag_config_env,
                                                     monkeypatch, tmp_path):
    # The suite's pipeline (its own sandbox database and lakehouse, the `bronze` schema dbt reads):
    # run first, every table loads in full; after other tests, the run is incremental.
    config = pipeline_config
    path = config.source_file
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
    assert all(r["status"] in ("success", "empty") for r in runs), [r.asDict() for r in runs]
    hubspot = [r for r in runs if r["source"] == "hubspot"]
    assert all(r["requests"] > 0 for r in hubspot), "each HubSpot object asked the API what changed"

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
