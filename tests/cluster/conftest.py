"""One real local cluster per test session: Spark standalone master and worker, moto's S3 server,
the PostgreSQL metastore database and a Spark Thrift Server, on free loopback ports.

The pipeline runs against it as separate processes (`python -m extract_load ...`), as in
production: the suite's own in-process local Spark session cannot also be a cluster driver.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sandbox import cluster as local
from extract_load.config import CONFIG_DIR, PROJECT_ROOT
from extract_load.sources.registry import load_config
from tests.conftest import deep_update, free_port

# The end-to-end cluster run is part of `make test` (~11 minutes of a 2-core machine; alone:
# `make cluster-test`). ELT_CLUSTER_TESTS=0 leaves it out of a local development run.
collect_ignore = ["test_cluster_e2e.py"] if os.environ.get("ELT_CLUSTER_TESTS") == "0" else []


def run_cli(config_path: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m extract_load --config <file> <args>` in a process of its own; output captured."""
    return subprocess.run([sys.executable, "-m", "extract_load", "--config", str(config_path), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)


def start_cli(config_path: Path, *args: str, log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "extract_load", "--config", str(config_path), *args],
                                stdout=out, stderr=subprocess.STDOUT, text=True, cwd=PROJECT_ROOT)


@pytest.fixture(scope="session")
def cluster_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="session")
def cluster_config_path(cluster_dir, redshift_database, hubspot_sandbox) -> Path:
    """config/cluster.yaml on free ports, its sources this run's stand-ins, scratch under the run."""
    db = redshift_database(name="cluster")
    raw = yaml.safe_load((CONFIG_DIR / "cluster.yaml").read_text())
    ports = {name: free_port() for name in ("spark", "s3", "pg", "thrift")}
    raw = deep_update(raw, {
        "work_dir": str(cluster_dir / "work"),
        "spark": {"master": f"spark://127.0.0.1:{ports['spark']}",
                  "metastore": {"jdbc_url": f"jdbc:postgresql://127.0.0.1:{ports['pg']}/metastore"},
                  "conf": {"spark.hadoop.fs.s3a.endpoint": f"http://127.0.0.1:{ports['s3']}"}},
        "dbt": {"thrift_port": ports["thrift"]},
        "sandbox": {"enabled": False},
        "data_sources": {
            "redshift": {"host": db["host"], "port": db["port"], "database": db["database"],
                         "username": db["user"], "password": db["password"]},
            "hubspot": {"base_url": hubspot_sandbox.base_url, "api_key": hubspot_sandbox.token},
        },
    })
    path = cluster_dir / "cluster.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def cluster_config(cluster_config_path):
    return load_config(path=cluster_config_path)


@pytest.fixture(scope="session")
def running_cluster(cluster_config, cluster_dir):
    """The five services, up once for the session; afterwards none of their processes is left."""
    root = cluster_dir / "services"
    started = time.monotonic()
    try:
        local.up(cluster_config, root)
    except local.ClusterError as exc:
        pytest.fail(str(exc))
    print(f"\nlocal cluster up in {time.monotonic() - started:.0f}s")
    yield root
    pids = [entry["pid"] for entry in local.read_state(root).get("processes", {}).values()]
    local.down(root)
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()
            and "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()]
    assert not left, f"cluster processes still running after down: {left}"
    assert not any(local.status(root).values())


@pytest.fixture(scope="session")
def dbt_paths(cluster_dir) -> list[str]:
    """dbt's target and log folders of this run (not the project's, which other runs use)."""
    return ["--target-path", str(cluster_dir / "dbt-target"), "--log-path", str(cluster_dir / "dbt-logs")]
