"""The daily DAG end to end with `dag.test()`: every table ingested from the stand-ins, source
freshness, dbt build and docs succeed, the ops tables hold the run's metrics, and retention and
maintenance run last.

It runs on the suite's pipeline (its sandbox database, lakehouse and `bronze` schema, as dbt reads
them): in the full suite the loads are incremental after the dbt tests' first load. The tasks run
in this process, so they share the suite's Spark session and embedded metastore, as a local
`dag.test()` would. What the run changes is what a daily run changes (new loads, rebuilt models,
compacted files); the one row it plants for retention to expire is gone when it ends.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import yaml

from tests.orchestration.conftest import load_dagbag

RETENTION_DAYS = 3650  # the sandbox's events are all younger: only the planted one expires


def _with_event_retention(config, path) -> None:
    """The pipeline's config file with a retention period on the Amplitude events."""
    raw = yaml.safe_load(open(config.source_file))
    raw["data_sources"]["redshift"]["tables"] = {"customer_behavior": {"retention_days": RETENTION_DAYS}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def _plant_expired_event(spark, table: str) -> str:
    """Copy one clean event to 2001 with an old `_loaded_at` (so the incremental silver model skips it)."""
    event_id = str(uuid.uuid4())
    row = spark.sql(f"select * from {table} where user_id is not null and coalesce(revenue, 0) >= 0 limit 1")
    ancient = {"event_id": f"'{event_id}'", "event_timestamp": "timestamp'2001-01-01 00:00:00'",
               "event_date": "date'2001-01-01'", "_loaded_at": "timestamp'2001-01-01 00:00:00'"}
    columns = []
    for field in row.schema.fields:
        value = ancient.get(field.name)
        columns.append(f"cast({value} as {field.dataType.simpleString()}) as `{field.name}`" if value else f"`{field.name}`")
    row.selectExpr(*columns).write.format("delta").mode("append").saveAsTable(table)
    return event_id


def test_daily_dag_runs_ingestion_dbt_build_docs_and_retention(spark, airflow_db, pipeline_config, dag_config_env,
                                                               monkeypatch, tmp_path):
    config = pipeline_config
    events = config.bronze_table("redshift", "customer_behavior")
    _with_event_retention(config, tmp_path / "daily.yaml")
    dag_config_env(tmp_path / "daily.yaml")
    # Retries as in production, but seconds apart: a loaded machine can time out a connection.
    monkeypatch.setenv("ELT_TASK_RETRIES", "2")
    monkeypatch.setenv("ELT_RETRY_DELAY_SECONDS", "10")
    monkeypatch.setenv("ELT_DBT_TARGET_PATH", str(tmp_path / "dbt-target"))

    bag = load_dagbag()
    assert bag.import_errors == {}
    dag = bag.dags["pyspark_delta_etl"]
    if spark.catalog.tableExists(events):  # run alone, the DAG's own ingestion creates the table
        planted = _plant_expired_event(spark, events)
    else:
        planted = None
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    t0 = time.monotonic()
    run = dag.test()
    elapsed = time.monotonic() - t0

    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {t.task_id: "success" for t in dag.tasks}, states
    assert run.state == "success"

    since = f"timestamp'{started:%Y-%m-%d %H:%M:%S}'"
    runs = spark.table("ops.ingest_runs").where(f"started_at >= {since}").collect()
    assert {(r["source"], r["object"]) for r in runs} == set(config.source_tables())
    assert all(r["status"] in ("success", "empty") for r in runs), [r.asDict() for r in runs]
    assert all(r["requests"] > 0 for r in runs if r["source"] == "hubspot"), "each HubSpot object asked what changed"

    label = f"pyspark_delta_etl/{run.run_id}"
    dq = spark.table("ops.dq_results").where(f"run_label = '{label}'").collect()
    assert {r["command"] for r in dq} == {"source freshness", "build"}
    freshness = {r["table_name"] for r in dq if r["rule"] == "freshness"}
    assert {f"{s}.{t}" for s, t in config.source_tables()} <= freshness
    assert len([r for r in dq if r["command"] == "build"]) > 100, "the build's tests are recorded"
    assert not [r.asDict() for r in dq if r["status"] in ("fail", "error", "runtime error")]

    health = spark.table("ops.mart_pipeline_health").collect()
    assert {(r["source"], r["object"]) for r in health} >= set(config.source_tables())
    assert (tmp_path / "dbt-target" / "catalog.json").exists() and (tmp_path / "dbt-target" / "index.html").exists()

    # Retention, then maintenance: the expired event is deleted, the table compacted and VACUUMed.
    if planted is not None:
        assert spark.table(events).where(f"event_id = '{planted}'").count() == 0
        history = spark.sql(f"describe history {events}").where(f"timestamp >= {since}").orderBy("version").collect()
        operations = [h.operation for h in history]
        assert "DELETE" in operations and "VACUUM END" in operations, operations
        assert operations.index("DELETE") < operations.index("VACUUM END"), operations
        [delete] = [h for h in history if h.operation == "DELETE"]
        assert delete.operationMetrics["numDeletedRows"] == "1"
    for table in (events, "silver.stg_redshift__customer_behavior", config.bronze_table("hubspot", "contacts")):
        operations = {h.operation for h in spark.sql(f"describe history {table}").where(f"timestamp >= {since}").collect()}
        assert "VACUUM END" in operations, (table, operations)  # OPTIMIZE commits only when it compacts
    print(f"\npyspark_delta_etl dag.test(): {elapsed:.0f}s")
