"""Hourly ingestion of every configured hourly and daily source table into bronze, then
data-quality checks (dbt source tests and `dbt source freshness`) on what landed.

One task per table, generated from the configuration; no dependencies between them, so one
table's failure never holds up another. Daily tables sit behind `daily_window`, which lets them
through once a day (at ELT_DAILY_HOUR UTC, and on manual runs). Real-time tables have their own
DAG, `external_data_ingestion_realtime`.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from orchestration.common import (START_DATE, TAGS, data_quality_checks, dag_config, default_args, ingest_table,
                                  is_daily_window, pool, tables_by_frequency, task_id)

CONFIG = dag_config()


@dag(
    dag_id="external_data_ingestion",
    description="Redshift and HubSpot tables into bronze (hourly; daily tables once a day), then DQ checks",
    schedule="@hourly",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=TAGS + ["ingestion"],
    doc_md=__doc__,
)
def external_data_ingestion():
    @task(pool=pool())
    def ingest(source: str, table: str) -> dict:
        return ingest_table(source, table)

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def daily_window(**context) -> bool:
        return is_daily_window(context)

    @task(trigger_rule="all_done", retries=0, pool=pool())
    def data_quality() -> dict:
        return data_quality_checks()

    checks = data_quality()
    hourly = [ingest.override(task_id=task_id(s, t))(s, t) for s, t in tables_by_frequency(CONFIG, "hourly")]
    daily_tables = tables_by_frequency(CONFIG, "daily")
    daily = [ingest.override(task_id=task_id(s, t))(s, t) for s, t in daily_tables]
    if daily:
        daily_window() >> daily
    for load in hourly + daily:
        load >> checks


external_data_ingestion()
