"""The pipeline in production shape: Spark standalone, the lakehouse in S3, a shared PostgreSQL
metastore, dbt through a Spark Thrift Server; every part real and on loopback (`make cluster-test`).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.cluster.conftest import run_cli, start_cli


LOCK_ERRORS = ("Another instance of Derby", "lock", "Lock wait", "deadlock", "could not obtain")


def _results(target: Path) -> dict[str, str]:
    """node id -> status of the last dbt run whose artifacts are in `target`."""
    data = json.loads((target / "run_results.json").read_text())
    return {r["unique_id"]: r["status"] for r in data["results"]}


def _bucket_keys(config) -> set[str]:
    import boto3

    from extract_load.cluster.local import S3_KEY

    bucket = urlparse(config.lakehouse.root).netloc
    s3 = boto3.client("s3", endpoint_url=config.spark.conf["spark.hadoop.fs.s3a.endpoint"], region_name="us-east-1",
                      aws_access_key_id=S3_KEY, aws_secret_access_key=S3_KEY)
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys |= {item["Key"] for item in page.get("Contents", [])}
    return keys


def _lock_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if any(word in ln for word in LOCK_ERRORS) and "ERROR" in ln.upper()]


@pytest.fixture(scope="session")
def cluster_pipeline(running_cluster, cluster_config_path, dbt_paths, cluster_dir):
    """Ingest every configured table, then `dbt build` through the thrift target (one run each)."""
    timings = {}
    started = time.monotonic()
    ingest = run_cli(cluster_config_path, "ingest")
    timings["ingest"] = time.monotonic() - started
    assert ingest.returncode == 0, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    started = time.monotonic()
    build = run_cli(cluster_config_path, "dbt", "build", *dbt_paths, timeout=3600)
    timings["dbt build"] = time.monotonic() - started
    print(f"\ncluster pipeline: ingest {timings['ingest']:.0f}s, dbt build {timings['dbt build']:.0f}s")
    return {"ingest": ingest, "build": build, "target": Path(dbt_paths[1])}


def test_ingest_lands_every_table_as_delta_in_the_bucket(cluster_pipeline, cluster_config):
    keys = _bucket_keys(cluster_config)
    root = urlparse(cluster_config.lakehouse.root).path.strip("/")
    for source, table in cluster_config.source_tables():
        log = f"{root}/bronze/{source}/{table}/_delta_log/00000000000000000000.json"
        assert log in keys, f"no Delta table for {source}.{table} in the bucket"
    assert not any(k.startswith(str(Path.cwd())) for k in keys)
    assert "Another instance of Derby" not in cluster_pipeline["ingest"].stderr


def test_dbt_build_through_thrift_passes_every_model_and_test(cluster_pipeline, cluster_config):
    build = cluster_pipeline["build"]
    assert build.returncode == 0, build.stdout[-4000:]
    statuses = _results(cluster_pipeline["target"])
    models = [n for n in statuses if n.startswith("model.")]
    tests = [n for n in statuses if n.startswith("test.") or n.startswith("unit_test.")]
    assert len(models) >= 30 and len(tests) >= 150, (len(models), len(tests))
    bad = {n: s for n, s in statuses.items() if s not in ("success", "pass", "warn")}
    assert not bad, bad
    keys = _bucket_keys(cluster_config)
    root = urlparse(cluster_config.lakehouse.root).path.strip("/")
    for layer in ("silver", "gold"):
        logs = {k.split("/_delta_log/")[0] for k in keys if k.startswith(f"{root}/{layer}/") and "/_delta_log/" in k}
        assert len(logs) >= 5, f"{layer}: {sorted(logs)}"


def test_ingest_and_dbt_build_at_the_same_time_share_the_metastore(cluster_pipeline, cluster_config_path,
                                                                   dbt_paths, cluster_dir):
    target = cluster_dir / "dbt-target-concurrent"
    ingest = start_cli(cluster_config_path, "ingest", "--source", "hubspot", "--table", "companies",
                       "--full-refresh", log=cluster_dir / "concurrent-ingest.log")
    build = start_cli(cluster_config_path, "dbt", "build", "--select", "staging.redshift",
                      "--target-path", str(target), "--log-path", str(cluster_dir / "dbt-logs-concurrent"),
                      log=cluster_dir / "concurrent-dbt.log")
    overlapped = False
    while ingest.poll() is None or build.poll() is None:
        overlapped = overlapped or (ingest.poll() is None and build.poll() is None and target.exists())
        time.sleep(1)
    ingest_out = (cluster_dir / "concurrent-ingest.log").read_text()
    build_out = (cluster_dir / "concurrent-dbt.log").read_text()
    assert ingest.returncode == 0, ingest_out[-3000:]
    assert build.returncode == 0, build_out[-3000:]
    assert overlapped, "the two runs did not overlap"
    assert "hubspot.companies" in ingest_out and "success" in ingest_out
    statuses = _results(target)
    assert statuses and all(s in ("success", "pass", "warn") for s in statuses.values()), statuses
    assert not _lock_lines(ingest_out + build_out)
