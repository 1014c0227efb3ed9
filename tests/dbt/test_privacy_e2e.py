"""Secrets on the built lakehouse: none reaches a log, dlt state, a dbt artifact or the docs site."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def built(first_build, loaded):
    assert first_build.success
    return loaded


def _files_under(*roots: Path):
    for root in roots:
        if root.is_file():
            yield root
        elif root.exists():
            yield from (p for p in root.rglob("*") if p.is_file())


def test_no_secret_reaches_logs_state_artifacts_or_the_docs_site(built, spark, suite_log, pipeline_database,
                                                                 hubspot_sandbox):
    from extract_load.dbt_runner import project_dir, run_dbt

    assert run_dbt(built, ["docs", "generate"]).success
    secrets = {
        "HubSpot token": hubspot_sandbox.token,
        "Redshift password": pipeline_database["password"],
        "PII hash key": built.privacy.pii_hash_key.get_secret_value(),
    }
    dbt_dir = Path(project_dir(built))
    places = list(_files_under(suite_log, dbt_dir / "target", dbt_dir / "logs", Path(built.work_path),
                               Path(built.lakehouse_root)))
    assert any(p.name == "manifest.json" for p in places) and any(p.name == "index.html" for p in places)
    assert any("dlt" in p.parts for p in places), "the dlt pipeline folder (state, load packages) is scanned"
    hits = []
    for path in places:
        data = path.read_bytes()
        hits += [f"{name} in {path}" for name, value in secrets.items() if value.encode() in data]
    assert not hits, hits
    for table in ("ops.ingest_runs", "ops.dq_results", "ops.alerts"):
        if spark.catalog.tableExists(table):
            text = " ".join(str(r.asDict()) for r in spark.table(table).collect())
            assert not [n for n, v in secrets.items() if v in text], table
