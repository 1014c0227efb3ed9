"""Right to erasure on the built lakehouse: one person gone from every layer, everyone else intact."""
from __future__ import annotations

from pathlib import Path

import pytest

from extract_load.maintain import delta_tables
from extract_load.privacy import forget


def _counts(spark, tables):
    return {t: spark.table(t).count() for t in tables}


@pytest.fixture(scope="module")
def built(first_build, loaded):
    assert first_build.success
    return loaded


def test_forget_erases_a_contact_everywhere_and_nobody_else(built, spark):
    config = built
    person = spark.sql("""
        select c.id, lower(trim(c.email)) as email from bronze.hubspot_contacts c
        join bronze.hubspot_deals_to_contacts a on a.to_id = c.id
        where c.email like '%@%' and not c._is_deleted
        order by c.id limit 1""").first()
    assert person is not None
    tables = delta_tables(spark, ["bronze", "silver", "gold", "dq_failures"])
    before = _counts(spark, tables)

    deleted = forget(spark, config, email=person.email, vacuum_hours=0)

    assert "bronze.hubspot_contacts" in deleted and "silver.stg_hubspot__contacts" in deleted
    assert "gold.dim_contacts" in deleted and "bronze.hubspot_deals_to_contacts" in deleted
    after = _counts(spark, tables)
    for table in tables:
        assert after[table] == before[table] - deleted.get(table, 0), f"{table}: someone else's rows changed"
    for table in tables:
        frame = spark.table(table)
        columns = {f.name for f in frame.schema.fields}
        for column, value in (("email", person.email), ("contact_id", person.id), ("id", person.id)):
            if column in columns and (column != "id" or table.startswith("bronze.hubspot_contacts")):
                assert frame.filter(frame[column] == value).count() == 0, f"{table}.{column} still holds the person"
    # No data file left in the table folders (live or old version) holds the email.
    for table in ("bronze.hubspot_contacts", "silver.stg_hubspot__contacts"):
        location = spark.sql(f"describe detail {table}").first().location.removeprefix("file:")
        files = [str(p) for p in Path(location).rglob("*.parquet") if "_delta_log" not in p.parts]
        raw = spark.read.parquet(*files)
        assert raw.filter(raw["email"].contains(person.email.split("@")[0] + "@")).filter(
            f"lower(trim(email)) = '{person.email}'").count() == 0
    erasure = spark.table("ops.erasures").orderBy("requested_at", ascending=False).first()
    assert erasure.identifier_kinds == "email" and erasure.rows_deleted == sum(deleted.values())
    assert person.email not in str(erasure.asDict())


def test_forget_by_amplitude_user_id_clears_events_and_gold_keys(built, spark):
    user = spark.sql("select user_id from bronze.redshift_customer_behavior where user_id is not null "
                     "order by user_id limit 1").first().user_id
    before = spark.table("bronze.redshift_customer_behavior").count()
    mine = spark.sql(f"select count(*) from bronze.redshift_customer_behavior where user_id = '{user}'").first()[0]
    deleted = forget(spark, built, user_id=user, vacuum_hours=0)
    assert deleted["bronze.redshift_customer_behavior"] == mine > 0
    assert spark.table("bronze.redshift_customer_behavior").count() == before - mine
    assert "gold.fct_user_daily_engagement" in deleted


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
