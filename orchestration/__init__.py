"""Airflow orchestration of the pipeline: the DAG files live in `orchestration/dags/` (point
`AIRFLOW__CORE__DAGS_FOLDER` there); `orchestration.common` holds what they share."""
