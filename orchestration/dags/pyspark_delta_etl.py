"""The daily main job: ingest every configured table (all frequencies), check bronze freshness,
`dbt build` silver and gold with their tests (a failing error-severity test skips the models
downstream of it), then `dbt docs generate`, then retention and table maintenance (OPTIMIZE,
VACUUM).

The ingestion runs inline, as this DAG's own `ingestion` task group (the same task per table as
`external_data_ingestion`), rather than through TriggerDagRunOperator: the whole job then runs in
one `dag.test()`, and a worker process keeps one Spark session for its task. One table's failure
does not stop the others; freshness runs once every load has finished either way. A source past
its `error_after` freshness fails `source_freshness` and holds the build back (stale data is not
modelled as if current); a bronze table that does not exist yet is recorded and alerted, and
`dbt build` then reports the models that need it.
"""
from __future__ import annotations

from airflow.sdk import TaskGroup, dag, task

from orchestration.common import (START_DATE, TAGS, daily_schedule, dag_config, default_args, ingest_table,
                                  lakehouse_upkeep, pool, run_dbt_step, source_selectors, task_id)

CONFIG = dag_config()


@dag(
    dag_id="pyspark_delta_etl",
    description="Daily: ingest all tables, source freshness, dbt build (silver, gold, tests), docs",
    schedule=daily_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=TAGS + ["dbt"],
    doc_md=__doc__,
)
def pyspark_delta_etl():
    @task(pool=pool())
    def ingest(source: str, table: str) -> dict:
        return ingest_table(source, table)

    @task(trigger_rule="all_done", retries=0, pool=pool())
    def source_freshness() -> dict:
        return run_dbt_step(["source", "freshness", "--select", *source_selectors(dag_config())],
                            artifact="sources.json", fail_on=("error",), tolerate=("runtime error",))

    @task(pool=pool())
    def dbt_build() -> dict:
        return run_dbt_step(["build"], artifact="run_results.json")

    @task(pool=pool())
    def dbt_docs_generate() -> dict:
        return run_dbt_step(["docs", "generate"])

    @task(pool=pool())
    def retention_and_maintenance() -> dict:
        return lakehouse_upkeep()

    with TaskGroup("ingestion", prefix_group_id=False) as ingestion:
        for source, table in CONFIG.source_tables():
            ingest.override(task_id=task_id(source, table))(source, table)

    build = ingestion >> source_freshness() >> dbt_build()
    build >> dbt_docs_generate() >> retention_and_maintenance()


pyspark_delta_etl()
