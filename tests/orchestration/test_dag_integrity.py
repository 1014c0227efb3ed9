"""The DAG files import cleanly under Airflow 3, and their tasks follow the configuration."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.orchestration.conftest import DAGS_FOLDER, load_dagbag

EXPECTED_DAGS = {"external_data_ingestion", "external_data_ingestion_realtime", "pyspark_delta_etl"}


@pytest.fixture
def dagbag(write_config, dag_config_env):
    dag_config_env(write_config())
    return load_dagbag()


def ingest_ids(dag) -> set[str]:
    return {t.task_id for t in dag.tasks if t.task_id.startswith("ingest_")}


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED_DAGS
    assert {p.name for p in DAGS_FOLDER.glob("*.py")} == {f"{d}.py" for d in EXPECTED_DAGS}


def test_schedules(dagbag):
    assert dagbag.dags["external_data_ingestion"].schedule == "@hourly"
    assert dagbag.dags["external_data_ingestion_realtime"].schedule == "*/10 * * * *"
    assert dagbag.dags["pyspark_delta_etl"].schedule == "30 2 * * *"  # daily, off the hourly runs
    for dag in dagbag.dags.values():
        assert dag.catchup is False and dag.max_active_runs == 1


def test_hourly_dag_has_one_task_per_hourly_and_daily_table(dagbag, base_config):
    dag = dagbag.dags["external_data_ingestion"]
    hourly = {f"ingest_{s}__{t}" for s, t in base_config.source_tables() if base_config.frequency(s, t) == "hourly"}
    daily = {f"ingest_{s}__{t}" for s, t in base_config.source_tables() if base_config.frequency(s, t) == "daily"}
    assert hourly == {"ingest_redshift__marketing_campaigns", "ingest_hubspot__contacts", "ingest_hubspot__deals",
                      "ingest_hubspot__tickets"}
    assert daily == {"ingest_redshift__web_analytics", "ingest_hubspot__companies"}
    assert ingest_ids(dag) == hourly | daily
    for task_id in hourly:  # independent: one table's failure never blocks another
        assert dag.get_task(task_id).upstream_task_ids == set()
    for task_id in daily:  # once a day, behind the daily window
        assert dag.get_task(task_id).upstream_task_ids == {"daily_window"}
    checks = dag.get_task("data_quality")
    assert checks.upstream_task_ids == hourly | daily
    assert checks.trigger_rule == "all_done"


def test_realtime_dag_runs_only_the_realtime_tables(dagbag):
    dag = dagbag.dags["external_data_ingestion_realtime"]
    assert {t.task_id for t in dag.tasks} == {"ingest_redshift__customer_behavior"}


def test_daily_dag_ingests_everything_then_freshness_build_docs(dagbag, base_config):
    dag = dagbag.dags["pyspark_delta_etl"]
    every = {f"ingest_{s}__{t}" for s, t in base_config.source_tables()}
    assert ingest_ids(dag) == every
    for task_id in every:
        assert dag.get_task(task_id).upstream_task_ids == set()
    freshness = dag.get_task("source_freshness")
    assert freshness.upstream_task_ids == every and freshness.trigger_rule == "all_done"
    assert dag.get_task("dbt_build").upstream_task_ids == {"source_freshness"}
    assert dag.get_task("dbt_docs_generate").upstream_task_ids == {"dbt_build"}
    assert dag.get_task("retention_and_maintenance").upstream_task_ids == {"dbt_docs_generate"}
    assert {t.task_id for t in dag.tasks} == every | {"source_freshness", "dbt_build", "dbt_docs_generate",
                                                      "retention_and_maintenance"}


def test_ingestion_tasks_retry_with_exponential_backoff_and_alert(dagbag):
    from orchestration.common import on_failure_callback

    for dag in dagbag.dags.values():
        for task in dag.tasks:
            if not task.task_id.startswith("ingest_"):
                continue
            assert task.retries >= 1
            assert task.retry_exponential_backoff
            assert task.retry_delay <= timedelta(minutes=2) and task.max_retry_delay >= task.retry_delay
            assert on_failure_callback in (task.on_failure_callback or [])


def test_a_table_added_to_the_catalog_appears_as_a_task(write_config, dag_config_env):
    path = write_config({"data_sources": {
        "redshift": {"tables": [
            {"name": "marketing_campaigns", "frequency": "hourly", "primary_key": ["campaign_id", "date"],
             "cursor": "updated_at"},
            {"name": "orders", "frequency": "daily", "primary_key": ["order_id"], "cursor": "updated_at"},
            {"name": "clickstream", "frequency": "real-time", "primary_key": ["event_id"], "cursor": "ts"},
        ]},
        "hubspot": {"tables": [
            {"name": "contacts", "path": "/crm/v3/objects/contacts", "frequency": "hourly"},
            {"name": "line_items", "path": "/crm/v3/objects/line_items", "frequency": "hourly"},
        ]},
    }})
    dag_config_env(path)
    bag = load_dagbag()
    assert bag.import_errors == {}
    hourly = bag.dags["external_data_ingestion"]
    assert ingest_ids(hourly) == {"ingest_redshift__marketing_campaigns", "ingest_redshift__orders",
                                  "ingest_hubspot__contacts", "ingest_hubspot__line_items"}
    assert hourly.get_task("ingest_hubspot__line_items").upstream_task_ids == set()
    assert hourly.get_task("ingest_redshift__orders").upstream_task_ids == {"daily_window"}
    assert "ingest_hubspot__line_items" in hourly.get_task("data_quality").upstream_task_ids
    assert ingest_ids(bag.dags["external_data_ingestion_realtime"]) == {"ingest_redshift__clickstream"}
    assert ingest_ids(bag.dags["pyspark_delta_etl"]) == {
        "ingest_redshift__marketing_campaigns", "ingest_redshift__orders", "ingest_redshift__clickstream",
        "ingest_hubspot__contacts", "ingest_hubspot__line_items"}


def test_no_realtime_dag_without_realtime_tables(write_config, dag_config_env):
    dag_config_env(write_config({"data_sources": {"redshift": {"tables": [
        {"name": "marketing_campaigns", "frequency": "hourly", "primary_key": ["campaign_id", "date"],
         "cursor": "updated_at"}]}}}))
    bag = load_dagbag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"external_data_ingestion", "pyspark_delta_etl"}


def test_a_broken_config_is_an_import_error(tmp_path, dag_config_env):
    broken = tmp_path / "broken.yaml"
    broken.write_text("environment: x\ndata_sources: {redshift: {tables: [{name: 'bad name'}]}}\n")
    dag_config_env(broken)
    bag = load_dagbag()
    assert set(bag.import_errors) and all(str(DAGS_FOLDER) in path for path in bag.import_errors)


def test_daily_window_opens_once_a_day_and_on_manual_runs(monkeypatch):
    from types import SimpleNamespace

    from orchestration.common import is_daily_window

    monkeypatch.setenv("ELT_DAILY_HOUR", "3")
    scheduled = SimpleNamespace(run_type="scheduled")
    assert is_daily_window({"dag_run": scheduled, "logical_date": datetime(2026, 11, 25, 3, tzinfo=timezone.utc)})
    assert not is_daily_window({"dag_run": scheduled, "logical_date": datetime(2026, 11, 25, 4, tzinfo=timezone.utc)})
    assert is_daily_window({"dag_run": SimpleNamespace(run_type="manual"),
                            "logical_date": datetime(2026, 11, 25, 4, tzinfo=timezone.utc)})
