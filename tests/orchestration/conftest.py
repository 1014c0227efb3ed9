"""Airflow for the orchestration tests: its home (config, SQLite metadata DB, logs) in a temporary
folder of this run, example DAGs off, the DAG folder pointing at `orchestration/dags`.

Airflow reads these settings when it is first imported, so they are set here, before any test
module imports it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "orchestration" / "dags"
AIRFLOW_HOME = tempfile.mkdtemp(prefix="airflow-home-")
os.environ.update({
    "AIRFLOW_HOME": AIRFLOW_HOME,
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://localhost:8080/execution/",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(Path(AIRFLOW_HOME) / "logs"),
})


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata DB in this run's AIRFLOW_HOME (what `dag.test()` needs)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, env=dict(os.environ), capture_output=True,
                   timeout=300)
    return AIRFLOW_HOME


@pytest.fixture
def dag_config_env(monkeypatch):
    """Point the DAG modules at a config file: `dag_config_env(path)`."""
    def use(path) -> None:
        monkeypatch.setenv("ELT_CONFIG", str(path))
        monkeypatch.delenv("ELT_ENV", raising=False)

    return use


def load_dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))
