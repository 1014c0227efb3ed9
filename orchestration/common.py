"""What the DAG files share: the configuration they are generated from, default task arguments,
and the task bodies, which call the project's Python API in the worker's own process.

The DAG modules read the configuration at parse time (`ELT_CONFIG`, a file path, else `ELT_ENV`,
an environment name, else `default`): one task per configured source table, so adding a table to
the YAML adds its task with no DAG file edited. Settings an operator may want per deployment:

    ELT_TASK_RETRIES        retries per task (default 3; exponential backoff from 2 minutes)
    ELT_RETRY_DELAY_SECONDS first retry delay in seconds (default 120)
    ELT_AIRFLOW_POOL        pool the Spark tasks run in (default `default_pool`; give it one slot
                            when the metastore is an embedded Derby, which admits one process)
    ELT_DAILY_HOUR          hour (UTC) at which the hourly DAG also loads the daily tables (0)
    ELT_REALTIME_SCHEDULE   cron of the real-time micro-batch DAG (`*/10 * * * *`)
    ELT_DAILY_SCHEDULE      cron of the daily main job (`30 2 * * *`: off the hour, so its
                            ingestion does not overlap an hourly run's)
    ELT_DBT_TARGET_PATH     dbt's target folder (default `<dbt project>/target`, where docs serve)
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from extract_load import alerts
from extract_load.config import Config
from extract_load.errors import PipelineError
from extract_load.sources.registry import load_config

log = logging.getLogger("orchestration")

START_DATE = datetime(2026, 1, 1, tzinfo=timezone.utc)
TAGS = ["elt"]


class AlertedFailure(PipelineError):
    """A task failed and its alert is already sent: the failure callback stays quiet."""


class ChecksFailed(AlertedFailure, AirflowFailException):
    """Data-quality checks failed (already alerted): retrying would not change the data."""


def dag_config() -> Config:
    """The configuration the DAGs are generated from and their tasks run with."""
    return load_config(env=os.environ.get("ELT_ENV") or None, path=os.environ.get("ELT_CONFIG") or None)


def task_id(source: str, table: str) -> str:
    return f"ingest_{source}__{table}"


def table_of_task(task_id_: str) -> str | None:
    """`source.table` for an ingestion task id, else None."""
    name = task_id_.rsplit(".", 1)[-1]
    if not name.startswith("ingest_") or "__" not in name:
        return None
    source, table = name.removeprefix("ingest_").split("__", 1)
    return f"{source}.{table}"


def tables_by_frequency(config: Config, *frequencies: str) -> list[tuple[str, str]]:
    return [(s, t) for s, t in config.source_tables() if config.frequency(s, t) in frequencies]


def pool() -> str:
    return os.environ.get("ELT_AIRFLOW_POOL") or "default_pool"


def daily_hour() -> int:
    return int(os.environ.get("ELT_DAILY_HOUR", "0"))


def daily_schedule() -> str:
    return os.environ.get("ELT_DAILY_SCHEDULE") or "30 2 * * *"


def realtime_schedule() -> str:
    return os.environ.get("ELT_REALTIME_SCHEDULE") or "*/10 * * * *"


def default_args() -> dict[str, Any]:
    """Retries with exponential backoff (2, 4, 8... minutes, at most 30); alerts on final failure."""
    return {
        "owner": "data-platform",
        "retries": int(os.environ.get("ELT_TASK_RETRIES", "3")),
        "retry_delay": timedelta(seconds=int(os.environ.get("ELT_RETRY_DELAY_SECONDS", "120"))),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        "on_failure_callback": on_failure_callback,
    }


# --------------------------------------------------------------------------- callbacks


def on_failure_callback(context: dict) -> None:
    """Airflow failure callback: one `task_failure` alert through the configured channels.

    Failures whose alert the task already sent (a table that failed to load, failed data-quality
    tests) raise AlertedFailure and are not alerted twice.
    """
    exception = context.get("exception")
    if isinstance(exception, AlertedFailure):
        return
    try:
        config = dag_config()
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        task_name = getattr(ti, "task_id", "?")
        alert = alerts.task_failure(
            config, getattr(ti, "dag_id", "?"), task_name, getattr(dag_run, "run_id", None) or context.get("run_id", "-"),
            exception, table=table_of_task(task_name), try_number=getattr(ti, "try_number", None))
        alerts.send(config, [alert])
    except Exception:  # noqa: BLE001 - a broken alert path must not hide the task's own failure
        log.exception("failure callback could not send its alert")


def _final_try() -> bool:
    """True when this attempt is the task's last (no retry left), or outside Airflow."""
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
    except Exception:  # noqa: BLE001 - not in a task
        return True
    return ti.try_number > ti.max_tries


def _run_label() -> str:
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
        return f"{context['dag'].dag_id}/{context['run_id']}"
    except Exception:  # noqa: BLE001
        return "manual"


# --------------------------------------------------------------------------- task bodies


def ingest_table(source: str, table: str) -> dict:
    """Load one source table into bronze (in this process); returns its run metrics.

    Raises AlertedFailure when the table failed, so Airflow retries it; the failure is alerted
    once, on the last try (earlier tries only log).
    """
    from extract_load.ingest import run_ingest
    from extract_load.spark import build_spark

    config = dag_config()
    spark = build_spark(config)
    final = _final_try()
    with alerts.retrying(not final):  # the runner alerts; earlier tries only log what will be retried
        runs = run_ingest(spark, config, source, [table])
    run = runs[0]
    summary = {k: v for k, v in run.row().items() if not isinstance(v, datetime)}
    if run.status == "failed":
        raise AlertedFailure(f"{source}.{table} failed in load {run.load_id}: {alerts.scrub(run.error, config)}")
    return summary


def lakehouse_upkeep() -> dict:
    """Daily upkeep after the build: drop rows past their retention, then compact and VACUUM."""
    from extract_load.maintain import maintain
    from extract_load.privacy import apply_retention
    from extract_load.spark import build_spark

    config = dag_config()
    spark = build_spark(config)
    expired = apply_retention(spark, config)
    compacted = maintain(spark, config, retain_hours=config.maintenance.retain_hours)
    return {"rows_expired": sum(expired.values()), "tables_compacted": len(compacted),
            "files_before": sum(r.files_before for r in compacted), "files_after": sum(r.files_after for r in compacted)}


def dbt_target_path(config: Config) -> str:
    from extract_load.dbt_runner import project_dir

    return os.environ.get("ELT_DBT_TARGET_PATH") or str(Path(project_dir(config)) / "target")


def run_dbt_step(args: list[str], artifact: str | None = None, fail_on: tuple[str, ...] = ("fail", "error"),
                 tolerate: tuple[str, ...] = ()) -> dict:
    """Run one dbt command in this process; record and alert its data-quality results.

    `artifact` is the file whose results go to `ops.dq_results` (`run_results.json` for tests,
    `sources.json` for freshness). Raises ChecksFailed when a result's status is in `fail_on`
    (alerted once per failing check); PipelineError when dbt failed otherwise, unless every
    result that is not a pass has a status in `tolerate` (recorded and alerted, not gating).
    """
    from extract_load.dbt_runner import run_dbt
    from extract_load.monitoring import parse_dbt_artifacts, record_dq_results
    from extract_load.monitoring.dq import rows_missing_from_artifacts
    from extract_load.spark import build_spark

    config = dag_config()
    spark = build_spark(config)  # dbt's session method reuses it
    target = Path(dbt_target_path(config))
    target.mkdir(parents=True, exist_ok=True)
    if artifact:
        (target / artifact).unlink(missing_ok=True)  # never read a previous command's results
    result = run_dbt(config, list(args) + ["--target-path", str(target)])
    rows: list[dict] = []
    if artifact:
        rows = parse_dbt_artifacts(target, run_label=_run_label(), only=artifact)
        rows += rows_missing_from_artifacts(result, rows, target, _run_label(), command=" ".join(args[:2]))
        record_dq_results(spark, config, rows)
        sent = alerts.from_dq_results(config, rows, run=_run_label())
        alerts.send(config, sent)
        alerts.record(spark, config, sent)
    failing = [r for r in rows if (r.get("status") or "").lower() in fail_on]
    summary = {"command": " ".join(args), "success": bool(result.success), "checks": len(rows),
               "failing": len(failing)}
    if failing:
        raise ChecksFailed(f"dbt {' '.join(args)}: {len(failing)} check(s) failed: "
                           + ", ".join(sorted({r['test_name'] for r in failing})[:10]))
    passing = ("pass", "success", "warn", "skipped", "no-op", *tolerate)
    tolerated = bool(tolerate and rows) and result.exception is None and all((r.get("status") or "") in passing for r in rows)
    if not result.success and not tolerated:
        detail = alerts.scrub(str(result.exception) if result.exception else "see the dbt log", config)
        raise PipelineError(f"dbt {' '.join(args)} failed: {detail}")
    return summary


def source_selectors(config: Config) -> list[str]:
    """dbt selectors of the bronze sources (one per configured source system)."""
    return [f"source:{name}" for name in config.configured_sources()]


def data_quality_checks() -> dict:
    """The hourly DQ step: dbt's tests on the bronze sources, then their freshness."""
    config = dag_config()
    selectors = source_selectors(config)
    tests = run_dbt_step(["test", "--select", *selectors], artifact="run_results.json")
    freshness = run_dbt_step(["source", "freshness", "--select", *selectors], artifact="sources.json",
                             fail_on=("error",), tolerate=("runtime error",))
    return {"tests": tests, "freshness": freshness}


def is_daily_window(context: dict) -> bool:
    """True in the run at the daily hour, and in every manual run (which loads everything)."""
    dag_run = context.get("dag_run")
    if dag_run is not None and str(getattr(dag_run, "run_type", "")).lower().endswith("manual"):
        return True
    moment = context.get("logical_date") or context.get("data_interval_end")
    if moment is None:
        return True
    return moment.hour == daily_hour()
