"""Suite-wide fixtures: a throwaway lakehouse, one Spark session, the sandbox services.

Every test that needs Spark shares the one session (it takes ~8 s to start). Sandbox services
are started once per run on free ports, with their data under the run's temporary folder.
"""
from __future__ import annotations

import copy
import socket
from pathlib import Path

import pytest
import yaml

from extract_load.config import CONFIG_DIR
from extract_load.sources.registry import load_config

pytest_plugins = [
    "tests.fixtures.redshift_sandbox",
    "tests.fixtures.hubspot_sandbox",
]


def pytest_configure(config) -> None:
    """Each session's temporary folder of its own, outside pytest's shared /tmp/pytest-of-<user>.

    The stand-ins run as an unprivileged user that must traverse the folders above their data;
    every new pytest session resets /tmp/pytest-of-<user> to 0700, which locked a running
    session's PostgreSQL out of its own data. Folders of sessions over a day old are removed."""
    import shutil
    import tempfile
    import time

    if config.option.basetemp or hasattr(config, "workerinput"):
        return
    root = Path(tempfile.gettempdir())
    for old in root.glob("elt-tests-*"):
        try:
            if time.time() - old.stat().st_mtime > 24 * 3600:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            continue
    config.option.basetemp = tempfile.mkdtemp(prefix="elt-tests-", dir=root)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deep_update(base: dict, overrides: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = value
    return out


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """The run's data folder: lakehouse, warehouse, metastore and sandbox data live here."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="session", autouse=True)
def suite_log(run_dir):
    """Everything the product logs during the run, kept in one file that the secrets test scans."""
    import logging

    path = run_dir / "suite.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    yield path
    root.removeHandler(handler)
    handler.close()


@pytest.fixture(scope="session")
def write_config(run_dir):
    """Write a config file derived from config/default.yaml with overrides; return its path."""
    base = yaml.safe_load((CONFIG_DIR / "default.yaml").read_text())
    counter = {"n": 0}

    def write(overrides: dict | None = None, name: str | None = None) -> Path:
        counter["n"] += 1
        raw = deep_update(base, {
            "lakehouse": {"root": str(run_dir / "lakehouse")},
            "spark": {"warehouse_dir": str(run_dir / "warehouse"),
                      "metastore": {"kind": "derby", "path": str(run_dir / "metastore")}},
            "sandbox": {"data_dir": str(run_dir / "sandbox")},
            "work_dir": str(run_dir / "work"),
        })
        raw = deep_update(raw, overrides or {})
        path = run_dir / (name or f"config-{counter['n']}.yaml")
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def base_config(write_config):
    """The suite's config: the default environment with everything under the run folder."""
    return load_config(path=write_config(name="suite.yaml"))


@pytest.fixture(scope="session")
def spark(base_config):
    """The one Spark session of the test run (Delta enabled, metastore under the run folder)."""
    from extract_load.spark import build_spark

    session = build_spark(base_config, app_name="extract-load-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def pipeline_database(redshift_database):
    """A Redshift stand-in database of the end-to-end pipeline's own, so advancing it affects no other test."""
    return redshift_database(name="pipeline")


@pytest.fixture(scope="session")
def pipeline_config(write_config, pipeline_database, hubspot_sandbox):
    """The default environment pointed at this run's sandbox: real bronze/ops schemas, as dbt reads them."""
    db = pipeline_database
    return load_config(path=write_config({"data_sources": {
        "redshift": {"host": db["host"], "port": db["port"], "database": db["database"],
                     "username": db["user"], "password": db["password"]},
        "hubspot": {"base_url": hubspot_sandbox.base_url, "api_key": hubspot_sandbox.token},
    }}, name="pipeline.yaml"))


@pytest.fixture(scope="session")
def loaded(spark, pipeline_config):
    """Every configured table landed once in bronze by the real loaders (first run: full loads)."""
    from extract_load.ingest import run_ingest

    runs = run_ingest(spark, pipeline_config)
    failed = [(r.source, r.object, r.error) for r in runs if r.status == "failed"]
    assert not failed, failed
    return pipeline_config


@pytest.fixture(scope="session")
def first_build(loaded):
    """One full `dbt build` over the loaded lakehouse, shared by the dbt tests (it takes minutes)."""
    from extract_load.dbt_runner import run_dbt

    return run_dbt(loaded, ["build"])
