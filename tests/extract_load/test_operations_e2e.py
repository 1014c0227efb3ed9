"""Operating the lakehouse on sandbox data: the data-quality runner and schema evolution."""
from __future__ import annotations

import pytest

import sandbox.redshift as redshift_api
from extract_load.cli import main
from extract_load.sources.registry import load_config
from extract_load.dq import ExternalDataQualityChecker
from extract_load.ingest import run_ingest

RULE_WARNINGS = {  # (bronze table, rule, column) that the planted dirt makes warn
    ("redshift.marketing_campaigns", "non_negative", "spend"),
    ("redshift.marketing_campaigns", "not_null_proportion", "campaign_name"),
    ("redshift.customer_behavior", "not_null_proportion", "user_id"),
    ("redshift.web_analytics", "non_negative", "revenue"),
    ("hubspot.contacts", "valid_email", "email"),
    ("hubspot.contacts", "unique", "email"),
    ("hubspot.deals", "not_null_proportion", "amount"),
    ("hubspot.deals", "amount_present_for_stages", "amount"),
}


def test_dq_runner_reports_the_planted_dirt_with_its_severities(loaded, spark):
    results = ExternalDataQualityChecker(spark, loaded).run_all_external_data_quality_checks()
    warned = {(r.table, r.rule, r.column) for r in results if r.status == "warn" and r.rule != "freshness"}
    assert RULE_WARNINGS <= warned, RULE_WARNINGS - warned
    for r in results:
        if (r.table, r.rule, r.column) in RULE_WARNINGS:
            assert r.severity == "warn" and r.failing_rows and r.failures_stored_in, r
    keys = [r for r in results if r.rule in ("unique", "not_null") and r.column in ("id", "event_id")]
    assert keys and all(r.severity == "error" and r.status == "pass" for r in keys)
    negative = spark.sql("select count(*) from bronze.redshift_marketing_campaigns where spend < 0").first()[0]
    [spend] = [r for r in results if (r.table, r.rule, r.column) == ("redshift.marketing_campaigns", "non_negative", "spend")]
    assert spend.failing_rows == negative
    assert spark.table("ops.dq_results").filter("run_label = 'dq'").count() >= len(results)


def test_dq_exit_code_follows_severities(loaded, spark, capsys):
    config_path = loaded.source_file
    assert main(["--config", config_path, "dq", "--source", "hubspot", "--table", "deals", "--no-freshness"]) == 0
    version = spark.sql("describe history bronze.hubspot_deals limit 1").first().version
    spark.table("bronze.hubspot_deals").limit(1).write.format("delta").mode("append").saveAsTable("bronze.hubspot_deals")
    try:
        assert main(["--config", config_path, "dq", "--source", "hubspot", "--table", "deals", "--no-freshness"]) == 1
        out = capsys.readouterr().out
        assert "unique" in out and "fail" in out
    finally:
        spark.sql(f"restore table bronze.hubspot_deals to version as of {version}")


@pytest.fixture
def evolving(redshift_database, write_config, run_dir):
    """A database and a lakehouse schema of their own: these tests change the source's shape."""
    db = redshift_database(name="evolving")
    config = load_config(path=write_config({
        "lakehouse": {"root": str(run_dir / "lakehouse_evolving"), "bronze_schema": "bronze_evolving",
                      "ops_schema": "ops_evolving"},
        "data_sources": {"redshift": {"host": db["host"], "port": db["port"], "database": db["database"],
                                      "username": db["user"], "password": db["password"]}},
    }, name="evolving.yaml"))
    return db, config


def _execute(db, *statements: str) -> None:
    conn = db.connect()
    try:
        cursor = conn.cursor()
        for statement in statements:  # the driver runs one statement per execute
            cursor.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_new_source_column_lands_with_older_rows_null_and_a_lossy_type_change_stops_only_its_table(evolving, spark):
    db, config = evolving
    first = run_ingest(spark, config, "redshift", ["marketing_campaigns", "web_analytics"])
    assert {r.status for r in first} == {"success"}
    before = spark.table("bronze_evolving.redshift_marketing_campaigns").count()

    redshift_api.add_column(db.conn_info, "marketing_campaigns", "target_cpa", "numeric(10,2)")
    _execute(db, "UPDATE marketing_campaigns SET target_cpa = 12.50, updated_at = updated_at + interval '1 day' "
                 "WHERE date = (SELECT max(date) FROM marketing_campaigns)")
    runs = run_ingest(spark, config, "redshift", ["marketing_campaigns"])
    assert runs[0].status == "success", runs[0].error
    table = spark.table("bronze_evolving.redshift_marketing_campaigns")
    assert dict(table.dtypes)["target_cpa"] == "decimal(10,2)"
    assert table.count() == before
    assert table.filter("target_cpa is not null").count() > 0 and table.filter("target_cpa is null").count() > 0
    assert spark.table("ops_evolving.schema_changes").filter("column_name = 'target_cpa'").count() == 1

    _execute(db, "ALTER TABLE marketing_campaigns ALTER COLUMN impressions TYPE varchar(32) USING impressions::varchar",
             "UPDATE marketing_campaigns SET updated_at = updated_at + interval '2 day' "
             "WHERE date = (SELECT max(date) FROM marketing_campaigns)")
    runs = {r.object: r for r in run_ingest(spark, config, "redshift", ["marketing_campaigns", "web_analytics"])}
    failed = runs["marketing_campaigns"]
    assert failed.status == "failed"
    assert "bronze_evolving.redshift_marketing_campaigns: column impressions changed type from bigint to string" in failed.error
    assert "\n" not in failed.error
    assert runs["web_analytics"].status in ("success", "empty")
    assert dict(spark.table("bronze_evolving.redshift_marketing_campaigns").dtypes)["impressions"] == "bigint"


def test_new_hubspot_property_lands_as_a_column(loaded, spark, hubspot_sandbox):
    hubspot_sandbox.add_property("companies", "account_tier", "string", fill=25, value="gold")
    runs = run_ingest(spark, loaded, "hubspot", ["companies"])
    assert runs[0].status == "success", runs[0].error
    table = spark.table("bronze.hubspot_companies")
    assert "account_tier" in table.columns
    assert table.filter("account_tier = 'gold'").count() == 25
    assert table.filter("account_tier is null").count() == table.count() - 25
