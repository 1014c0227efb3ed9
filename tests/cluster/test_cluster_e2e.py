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

    from sandbox.cluster import S3_KEY

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
    """Ingest every configured table; then the full `dbt build` through the thrift target while a
    second ingestion (one table, full refresh) runs beside it on the same metastore."""
    timings = {}
    started = time.monotonic()
    ingest = run_cli(cluster_config_path, "ingest")
    timings["ingest"] = time.monotonic() - started
    assert ingest.returncode == 0, ingest.stdout[-3000:] + ingest.stderr[-3000:]
    started = time.monotonic()
    target = Path(dbt_paths[1])
    beside = start_cli(cluster_config_path, "ingest", "--source", "hubspot", "--table", "companies",
                       "--full-refresh", log=cluster_dir / "concurrent-ingest.log")
    build = start_cli(cluster_config_path, "dbt", "build", *dbt_paths, log=cluster_dir / "dbt-build.log")
    overlapped = False
    while beside.poll() is None or build.poll() is None:
        overlapped = overlapped or (beside.poll() is None and build.poll() is None and target.exists())
        if time.monotonic() - started > 3600:
            beside.kill(), build.kill()
            pytest.fail("the cluster's dbt build and ingestion did not finish within an hour")
        time.sleep(1)
    timings["dbt build"] = time.monotonic() - started
    print(f"\ncluster pipeline: ingest {timings['ingest']:.0f}s, dbt build {timings['dbt build']:.0f}s")
    return {"ingest": ingest, "build": build.returncode, "build_log": (cluster_dir / "dbt-build.log").read_text(),
            "beside": beside.returncode, "beside_log": (cluster_dir / "concurrent-ingest.log").read_text(),
            "overlapped": overlapped, "target": target}


def test_ingest_lands_every_table_as_delta_in_the_bucket(cluster_pipeline, cluster_config):
    keys = _bucket_keys(cluster_config)
    root = urlparse(cluster_config.lakehouse.root).path.strip("/")
    for source, table in cluster_config.source_tables():
        log = f"{root}/bronze/{source}/{table}/_delta_log/00000000000000000000.json"
        assert log in keys, f"no Delta table for {source}.{table} in the bucket"
    assert not any(k.startswith(str(Path.cwd())) for k in keys)
    # the executors read dlt's load files through the bucket (a spark:// master), and none is left
    left = [k for k in keys if "/_staging/" in k and not k.endswith("/")]  # "_staging/": S3A's folder marker
    assert not left, f"staged load files left in the bucket: {left[:3]}"
    assert "Another instance of Derby" not in cluster_pipeline["ingest"].stderr


def test_dbt_build_through_thrift_passes_every_model_and_test(cluster_pipeline, cluster_config):
    assert cluster_pipeline["build"] == 0, cluster_pipeline["build_log"][-4000:]
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


def test_ingest_and_dbt_build_at_the_same_time_share_the_metastore(cluster_pipeline):
    beside, build = cluster_pipeline["beside_log"], cluster_pipeline["build_log"]
    assert cluster_pipeline["beside"] == 0, beside[-3000:]
    assert cluster_pipeline["overlapped"], "the ingestion and the dbt build did not overlap"
    assert "hubspot.companies" in beside and "success" in beside
    assert not _lock_lines(beside + build)
