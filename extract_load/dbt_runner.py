"""Run dbt in this process, against the same lakehouse and catalog as the loaders.

dbt-spark's `session` method calls `SparkSession.builder...getOrCreate()`: run in-process, it
reuses the session this process already holds (the loaders', the test suite's), so there is one
Spark session and one holder of the embedded Derby metastore. Settings dbt's profile asks for
that only a new session can take (jars, warehouse, metastore) are then ignored by Spark; runtime
settings dbt-spark forces (`spark.sql.ansi.enabled=false`) are restored after the run.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from extract_load.config import Config
from extract_load.spark import spark_conf

log = logging.getLogger(__name__)

# Runtime settings the dbt-spark session method changes on an existing session.
_RESTORED_SETTINGS = ("spark.sql.ansi.enabled",)


def project_dir(config: Config) -> str:
    """Absolute path of the dbt project (config `dbt.project_dir`, relative to the repo root)."""
    return config.path(config.dbt.project_dir)


def dbt_env(config: Config) -> dict[str, str]:
    """The environment variables `dbt_project/profiles.yml` and `dbt_project.yml` read.

    ELT_SPARK_JARS, ELT_WAREHOUSE_DIR, ELT_METASTORE_URL are the loaders' own Spark settings
    (`extract_load.spark.spark_conf`), so a dbt process started with them sees the same catalog.
    Raises ConfigError when the Delta jars are missing (run `make setup`).
    """
    conf = spark_conf(config)
    env = {
        # jars installed on the nodes are on the classpath instead (spark.jars unset)
        "ELT_SPARK_JARS": conf.get("spark.jars") or conf.get("spark.driver.extraClassPath", "").replace(":", ","),
        "ELT_WAREHOUSE_DIR": conf["spark.sql.warehouse.dir"],
        "ELT_LAKEHOUSE_ROOT": config.lakehouse_root.rstrip("/"),
        "ELT_SPARK_MASTER": config.spark.master,
        "ELT_DBT_TARGET": config.dbt.target,
        "DBT_TARGET": config.dbt.target,
        "DBT_PROFILES_DIR": project_dir(config),
        "ELT_SPARK_HOST": config.dbt.thrift_host,  # the thrift target's Spark Thrift Server
        "ELT_SPARK_PORT": str(config.dbt.thrift_port),
        "ELT_DBT_THREADS": str(config.dbt.threads),
        # dbt scrubs DBT_ENV_SECRET_* values from its logs and never writes them to artifacts.
        "DBT_ENV_SECRET_PII_HASH_KEY": config.privacy.pii_hash_key.get_secret_value(),
    }
    if "spark.hadoop.javax.jdo.option.ConnectionURL" in conf:
        env["ELT_METASTORE_URL"] = conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    if "spark.driver.memory" in conf:
        env["ELT_SPARK_DRIVER_MEMORY"] = conf["spark.driver.memory"]
    return env


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _active_settings() -> dict[str, str | None]:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return {}
    session = SparkSession.getActiveSession()
    if session is None:
        return {}
    return {key: session.conf.get(key, None) for key in _RESTORED_SETTINGS}


def _restore_settings(saved: dict[str, str | None]) -> None:
    if not saved:
        return
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is None:
        return
    for key, value in saved.items():
        if value is None:
            session.conf.unset(key)
        else:
            session.conf.set(key, value)


def run_dbt(config: Config, args: list[str]):
    """Run one dbt command (`["build"]`, `["test", "--select", "source:*"]`...) in this process.

    Returns dbt's `dbtRunnerResult` (`.success`, `.result`, `.exception`); it does not raise on
    failed models or tests, so the caller decides. `--project-dir`, `--profiles-dir` and
    `--target` are added unless given.
    """
    from dbt.cli.main import dbtRunner

    env = dbt_env(config)
    command = list(args)
    if "--project-dir" not in command:
        command += ["--project-dir", env["DBT_PROFILES_DIR"]]
    if "--profiles-dir" not in command:
        command += ["--profiles-dir", env["DBT_PROFILES_DIR"]]
    if "--target" not in command and "-t" not in command and _takes_target(command):
        command += ["--target", env["ELT_DBT_TARGET"]]
    saved = _active_settings()
    _set_session_secret("elt.pii_hash_key", env["DBT_ENV_SECRET_PII_HASH_KEY"])
    log.info("dbt %s", " ".join(args))
    # dbt resolves relative paths (target/, logs/, location defaults) against the working
    # directory: run from the project folder as the CLI would be.
    cwd = os.getcwd()
    with _environment(env):
        os.chdir(env["DBT_PROFILES_DIR"])
        try:
            return dbtRunner().invoke(command)
        finally:
            os.chdir(cwd)
            _restore_settings(saved)


def _set_session_secret(key: str, value: str) -> None:
    """A reused session ignores the profile's settings: give it the secret the SQL refers to."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.conf.set(key, value)


def _takes_target(command: list[str]) -> bool:
    return bool(command) and command[0] not in ("deps", "clean", "init", "--version")

