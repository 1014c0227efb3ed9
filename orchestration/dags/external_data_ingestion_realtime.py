"""Micro-batches for the real-time source tables (Amplitude events): every ELT_REALTIME_SCHEDULE
(default 10 minutes), one task per real-time table, each an incremental MERGE from its cursor
(with the table's late-arrival lookback). No dbt here: the hourly DAG tests and the daily DAG
models what these land. Not created when no table is configured as real-time.
"""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from orchestration.common import (START_DATE, TAGS, dag_config, default_args, ingest_table, pool, realtime_schedule,
                                  tables_by_frequency, task_id)

CONFIG = dag_config()
REALTIME_TABLES = tables_by_frequency(CONFIG, "real-time")

if REALTIME_TABLES:
    args = default_args()
    # A micro-batch that keeps failing is overtaken by the next one: retry soon, and not for long.
    args.update(retries=min(args["retries"], 2), retry_delay=min(args["retry_delay"], timedelta(minutes=1)),
                max_retry_delay=timedelta(minutes=5))

    @dag(
        dag_id="external_data_ingestion_realtime",
        description="Real-time source tables into bronze as frequent micro-batches",
        schedule=realtime_schedule(),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        dagrun_timeout=timedelta(minutes=30),
        default_args=args,
        tags=TAGS + ["ingestion", "real-time"],
        doc_md=__doc__,
    )
    def external_data_ingestion_realtime():
        @task(pool=pool())
        def ingest(source: str, table: str) -> dict:
            return ingest_table(source, table)

        for source, table in REALTIME_TABLES:
            ingest.override(task_id=task_id(source, table))(source, table)

    external_data_ingestion_realtime()
