"""dbt on what the real loaders landed from the sandbox: build, rules, incremental, broken keys, docs.

Everything runs in the test process: `run_dbt` reuses the suite's Spark session (one holder of
the embedded metastore).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sandbox.redshift as redshift_sandbox_api
from extract_load.dbt_runner import project_dir, run_dbt
from extract_load.ingest import run_ingest

# Planted dirt in the sandbox -> the source rules that must warn. Nothing else may warn, apart
# from the rejects tables (null keys are planted too) and the email null share, which depends
# on how many planted invalid emails are empty strings.
PLANTED = {
    "source_non_negative_redshift_marketing_campaigns_spend",
    "source_not_null_proportion_redshift_marketing_campaigns_0_995__campaign_name",
    "source_not_null_proportion_redshift_customer_behavior_0_995__user_id",
    "source_non_negative_redshift_web_analytics_revenue",
    "source_non_negative_redshift_web_analytics_sessions",
    "source_valid_email_hubspot_contacts_True__email",
    "source_unique_hubspot_contacts_email",
    "source_not_null_proportion_hubspot_deals_0_99__amount",
    "source_amount_present_for_stages_hubspot_deals_amount__dealstage__closedwon__contractsent",
}
MAY_WARN = {"source_not_null_proportion_hubspot_contacts_0_99__email"}


def _by_name(result):
    return {r.node.name: r for r in result.result.results}


def test_build_runs_every_model_and_test_and_warns_only_on_planted_dirt(first_build):
    results = _by_name(first_build)
    broken = {n: str(r.status) for n, r in results.items() if str(r.status) in ("error", "fail", "skipped")}
    assert first_build.success and not broken, broken
    warned = {n for n, r in results.items() if str(r.status) == "warn" and not n.endswith("__rejects_0")}
    warned = {n for n in warned if "__rejects" not in n}
    assert PLANTED <= warned, f"planted dirt not caught: {PLANTED - warned}"
    assert warned <= PLANTED | MAY_WARN, f"unexpected warnings: {warned - PLANTED - MAY_WARN}"
    models = [n for n, r in results.items() if r.node.resource_type == "model"]
    assert len(models) >= 30


def test_warning_counts_match_the_dirty_rows_in_bronze(first_build, spark):
    results = _by_name(first_build)
    negative = spark.sql("select count(*) from bronze.redshift_marketing_campaigns where spend < 0").first()[0]
    assert negative > 0
    assert results["source_non_negative_redshift_marketing_campaigns_spend"].failures == negative
    missing = spark.sql("select count(*) from bronze.hubspot_deals where amount is null "
                        "and dealstage in ('closedwon', 'contractsent')").first()[0]
    assert missing > 0
    assert results["source_amount_present_for_stages_hubspot_deals_amount__dealstage__closedwon__contractsent"].failures == missing
    stored = spark.table("dq_failures.source_non_negative_redshift_marketing_campaigns_spend").count()
    assert stored == negative


def test_rejects_hold_the_planted_null_keys(loaded, pipeline_database, spark):
    planted = redshift_sandbox_api.manifest(pipeline_database.conn_info)
    rejected = spark.table("bronze.redshift_customer_behavior__rejects").count()
    assert rejected == planted["customer_behavior"]["null_event_id"] > 0


def test_silver_and_gold_are_delta_tables_in_the_lakehouse(first_build, spark, loaded):
    root = loaded.lakehouse_root.rstrip("/")
    for layer in ("silver", "gold"):
        tables = spark.catalog.listTables(layer)
        assert tables
        for table in tables:
            detail = spark.sql(f"describe detail {layer}.{table.name}").first()
            assert detail.format == "delta"
            assert detail.location.rstrip("/").endswith(f"{root}/{layer}/{table.name}")


def test_silver_removes_archived_and_merged_contacts(first_build, spark):
    merged = spark.sql("""
        select distinct trim(m) as id from bronze.hubspot_contacts
        lateral view explode(split(hs_merged_object_ids, ';')) x as m
        where nullif(trim(hs_merged_object_ids), '') is not null and not _is_deleted""")
    archived = spark.sql("select id from bronze.hubspot_contacts where _is_deleted")
    gone = merged.union(archived).distinct()
    silver = spark.table("silver.stg_hubspot__contacts")
    assert silver.join(gone, silver.contact_id == gone.id).count() == 0
    present = gone.join(spark.table("bronze.hubspot_contacts").select("id"), "id").count()
    assert silver.count() == spark.table("bronze.hubspot_contacts").count() - present


def test_gold_has_no_raw_email_or_phone(first_build, spark):
    emails = {r[0] for r in spark.sql("select lower(trim(email)) from bronze.hubspot_contacts where email like '%@%'").collect()}
    phones = {r[0] for r in spark.sql("select phone from bronze.hubspot_contacts "
                                      "where length(regexp_replace(phone, '[^0-9]', '')) >= 7").collect()}
    assert emails and phones
    for table in spark.catalog.listTables("gold"):
        frame = spark.table(f"gold.{table.name}")
        for field in frame.schema.fields:
            if field.dataType.simpleString() != "string":
                continue
            values = {r[0] for r in frame.select(field.name).distinct().collect()}
            assert not values & emails, f"raw email in gold.{table.name}.{field.name}"
            assert not values & phones, f"raw phone in gold.{table.name}.{field.name}"


def test_second_build_after_an_incremental_load_processes_only_the_increment(first_build, loaded, pipeline_database, spark):
    silver = "silver.stg_redshift__customer_behavior"
    before = spark.sql(f"select max(_loaded_at) from {silver}").first()[0]
    redshift_sandbox_api.advance(pipeline_database.conn_info, hours=1.0)
    runs = run_ingest(spark, loaded, "redshift", ["customer_behavior"])
    assert runs[0].status == "success" and runs[0].mode != "full"
    new_rows = spark.sql(f"select count(*) from bronze.redshift_customer_behavior "
                         f"where _loaded_at > timestamp'{before}'").first()[0]
    total = spark.table("bronze.redshift_customer_behavior").count()
    assert 0 < new_rows < total / 5

    result = run_dbt(loaded, ["build", "--select", "stg_redshift__customer_behavior"])
    assert result.success
    last = spark.sql(f"describe history {silver} limit 1").first()
    assert last.operation == "MERGE"
    assert int(last.operationMetrics["numSourceRows"]) == new_rows, "only the increment is read"


def test_seeding_again_replaces_the_seed_instead_of_appending(first_build, loaded, spark):
    csv_rows = len((Path(project_dir(loaded)) / "seeds" / "ticket_sla_targets.csv").read_text().strip().splitlines()) - 1
    result = run_dbt(loaded, ["seed", "--select", "ticket_sla_targets"])
    assert result.success
    assert spark.table("silver.ticket_sla_targets").count() == csv_rows
    tested = run_dbt(loaded, ["test", "--select", "ticket_sla_targets"])
    assert tested.success


def test_source_freshness_passes_when_fresh_and_fails_when_stale(loaded, spark, tmp_path):
    fresh = run_dbt(loaded, ["source", "freshness", "--select", "source:hubspot.companies",
                             "--output", str(tmp_path / "fresh.json")])
    assert fresh.success
    spark.sql("update bronze.hubspot_companies set _loaded_at = _loaded_at - interval 3 days")
    try:
        stale = run_dbt(loaded, ["source", "freshness", "--select", "source:hubspot.companies",
                                 "--output", str(tmp_path / "stale.json")])
        assert not stale.success
        sources = [r for r in stale.result.results if r.node.unique_id.startswith("source.")]
        assert [str(r.status) for r in sources] == ["error"]
    finally:
        spark.sql("update bronze.hubspot_companies set _loaded_at = _loaded_at + interval 3 days")


def test_a_broken_key_in_bronze_fails_the_build_and_skips_downstream(first_build, loaded, spark):
    version = spark.sql("describe history bronze.hubspot_deals limit 1").first().version
    spark.table("bronze.hubspot_deals").limit(1).write.format("delta").mode("append").saveAsTable("bronze.hubspot_deals")
    try:
        result = run_dbt(loaded, ["build", "--select", "source:hubspot.deals+"])
        results = _by_name(result)
        assert not result.success
        assert str(results["source_unique_hubspot_deals_id"].status) == "fail"
        for model in ("stg_hubspot__deals", "fct_deals", "fct_sales_monthly"):
            assert str(results[model].status) == "skipped", model
    finally:
        spark.sql(f"restore table bronze.hubspot_deals to version as of {version}")


def test_docs_catalog_has_every_model_with_typed_columns(first_build, loaded):
    assert run_dbt(loaded, ["docs", "generate"]).success
    target = Path(project_dir(loaded)) / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    models = [uid for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"]
    for uid in models:
        assert uid in catalog["nodes"], uid
        columns = catalog["nodes"][uid]["columns"]
        assert columns and all(c["type"] for c in columns.values()), uid


def test_docs_site_renders_in_a_headless_browser(first_build, loaded, tmp_path):
    """Serve target/ and let headless Chromium run the docs app; the rendered page lists the models."""
    from tests.conftest import free_port

    assert run_dbt(loaded, ["docs", "generate"]).success
    target = Path(project_dir(loaded)) / "target"
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"http://127.0.0.1:{port}/index.html")
        dom = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
             "--virtual-time-budget=20000", "--dump-dom",
             f"http://127.0.0.1:{port}/index.html#!/model/model.elt.dim_contacts"],
            capture_output=True, text=True, timeout=120).stdout
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "dim_contacts" in dom
    for column in ("contact_id", "email_hash", "lifecycle_stage"):
        assert column in dom, f"the model page lists its column {column}"


def _wait_for(url: str) -> None:
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")
