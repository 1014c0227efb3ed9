"""Redshift stand-in -> dlt -> Spark/Delta bronze, end to end: full, incremental, re-runs, failures.

One module-scoped load of a private database (seeded like the default, fewer events) serves the
equality checks; the failure tests use databases and bronze schemas of their own.
"""
from __future__ import annotations

import time

import pytest

from extract_load.sources.registry import load_config
from extract_load.errors import SourceError
from extract_load.ingest import IngestOptions, extract_redshift_data
from extract_load.load.runner import land_source
from extract_load.load.runs import new_load_id
from extract_load.load.state import StateStore
from extract_load.sources import redshift as source
from extract_load.sources.registry import settings
from sandbox.redshift import advance, manifest

from .checks import assert_bronze_matches_source, source_query

TABLES = ["marketing_campaigns", "customer_behavior", "web_analytics"]
TIMINGS: dict[str, float] = {}


def ingest(spark, config, names, options=IngestOptions(), src=source.SOURCE):
    """The runner's loop over Redshift tables, as `python -m extract_load ingest --source redshift` runs it."""
    return land_source(spark, config, src, names, new_load_id(), options)


def _config(write_config, run_dir, db, name: str, **redshift):
    """A config pointing at `db`, with a lakehouse, bronze and ops schema of its own."""
    return load_config(path=write_config({
        "lakehouse": {"root": str(run_dir / f"lakehouse_{name}"), "bronze_schema": f"bronze_{name}",
                      "ops_schema": f"ops_{name}"},
        "work_dir": str(run_dir / f"work_{name}"),
        "data_sources": {"redshift": {"host": db.host, "port": db.port, "database": db.database,
                                      "username": db.user, "password": db.password, **redshift}},
    }))


@pytest.fixture(scope="module")
def loaded(spark, redshift_database, write_config, run_dir):
    """Full load of all three tables in chunks, then `advance` and an incremental load."""
    db = redshift_database(events=6000)
    tables = [{**t.model_dump(exclude_none=True), **({"chunk_rows": 2500} if t.name == "customer_behavior" else {})}
              for t in settings(load_config(path=write_config()), "redshift").tables]
    # a configured table the source lacks: it fails alone, the others load
    tables.insert(0, {"name": "no_such_table", "primary_key": ["id"], "cursor": "updated_at"})
    # events: 6000 rows at 2500 per chunk (four chunks, two commits); the others one commit each
    config = _config(write_config, run_dir, db, "rs_load", chunks_per_commit=2, tables=tables)
    before = manifest(db.conn_info)
    t0 = time.monotonic()
    full = {m.object: m for m in ingest(spark, config, ["no_such_table", *TABLES])}
    TIMINGS["full load"] = time.monotonic() - t0
    return {"db": db, "config": config, "manifest": before, "full": full}


def test_full_load_equals_source(spark, loaded):
    db, config, full = loaded["db"], loaded["config"], loaded["full"]
    for table in TABLES:
        m = full[table]
        assert m.status == "success" and m.mode == "full", (table, m.error)
        assert_bronze_matches_source(spark, config, db, table)
    counts = loaded["manifest"]
    assert spark.table(config.bronze_table("redshift", "marketing_campaigns")).count() == counts["marketing_campaigns"]["distinct_keys"]
    assert spark.table(config.bronze_table("redshift", "customer_behavior")).count() == counts["customer_behavior"]["distinct_event_ids"]
    assert spark.table(config.bronze_table("redshift", "web_analytics")).count() == counts["web_analytics"]["distinct_keys"]
    events = full["customer_behavior"]
    # 6000 rows at 2500 per chunk: a rejects chunk and three keyset chunks, two commits
    assert events.rows_extracted == counts["customer_behavior"]["rows"] and events.chunks == 4
    assert events.rows_rejected == counts["customer_behavior"]["null_event_id"]
    assert events.bytes > 0 and events.cursor_before is None
    assert events.cursor_after.startswith(counts["customer_behavior"]["max_event_timestamp"][:19])
    assert full["marketing_campaigns"].rows_rejected == counts["marketing_campaigns"]["null_campaign_id"]
    state = StateStore(spark, config).get("redshift", "web_analytics")
    assert state["cursor"] == counts["web_analytics"]["max_date"]
    bronze = spark.table(config.bronze_table("redshift", "customer_behavior"))
    assert bronze.schema["event_date"].dataType.simpleString() == "date"
    assert spark.sql(f"DESCRIBE DETAIL {config.bronze_table('redshift', 'customer_behavior')}").first()["partitionColumns"] == ["event_date"]
    types = {f.name: f.dataType.simpleString() for f in spark.table(config.bronze_table("redshift", "marketing_campaigns")).schema}
    assert types["budget"] == "decimal(12,2)" and types["conversion_value"] == "decimal(14,2)"
    assert types["impressions"] == "bigint" and types["conversions"] == "int" and types["date"] == "date"
    assert types["updated_at"] == "timestamp_ntz" and types["_loaded_at"] == "timestamp"
    assert bronze.schema["event_timestamp"].dataType.simpleString() == "timestamp"


def test_incremental_load_after_advance_picks_up_new_restated_and_late_rows(spark, loaded):
    db, config = loaded["db"], loaded["config"]
    prior = manifest(db.conn_info)["customer_behavior"]
    changes = advance(db.conn_info, hours=3)
    assert changes["customer_behavior"]["late"] > 0 and changes["web_analytics"]["updated"] > 0
    t0 = time.monotonic()
    runs = {m.object: m for m in ingest(spark, config, TABLES)}
    TIMINGS["incremental load"] = time.monotonic() - t0
    for table in TABLES:
        m = runs[table]
        assert m.status == "success" and m.mode == "incremental", (table, m.error)
        assert m.cursor_before == loaded["full"][table].cursor_after and m.cursor_after > m.cursor_before
        assert_bronze_matches_source(spark, config, db, table, exact_rejects=False)
    # the window was the lookback, not the table
    assert runs["customer_behavior"].rows_extracted < 1000
    assert runs["web_analytics"].rows_updated >= changes["web_analytics"]["updated"]
    # late events: happened before the cursor the first load saved, arrived after it; now in bronze
    late = source_query(db, "SELECT event_id FROM public.customer_behavior WHERE event_timestamp < %s "
                            "AND server_received_at > %s AND event_id IS NOT NULL",
                        (prior["max_event_timestamp"], prior["max_server_received_at"]))
    assert len(late) >= changes["customer_behavior"]["late"] - 1
    ids = [r[0] for r in late]
    table = spark.table(config.bronze_table("redshift", "customer_behavior"))
    assert table.where(table.event_id.isin(ids)).count() == len(ids)


def test_loading_the_same_window_twice_changes_nothing(spark, loaded):
    db, config = loaded["db"], loaded["config"]
    name = config.bronze_table("redshift", "web_analytics")
    before = spark.table(name).count()
    again = ingest(spark, config, ["web_analytics"], IngestOptions(full_refresh=True))[0]
    assert again.status == "success" and again.mode == "full"
    assert again.rows_inserted == 0 and spark.table(name).count() == before
    assert_bronze_matches_source(spark, config, db, "web_analytics", exact_rejects=False)


def test_extract_redshift_data_returns_the_bronze_dataframe(spark, loaded):
    frame = extract_redshift_data(spark, loaded["config"], "marketing_campaigns")
    assert frame.count() == spark.table(loaded["config"].bronze_table("redshift", "marketing_campaigns")).count()
    assert {"_loaded_at", "_load_id", "campaign_id", "spend"} <= set(frame.columns)


class Boom(RuntimeError):
    pass


def _fail_at(number: int):
    def hook(chunk):
        if chunk.number == number:
            raise Boom(f"injected failure at chunk {number}")
    return hook


def test_failure_between_chunks_then_rerun_loses_nothing_and_duplicates_nothing(spark, redshift_database, write_config, run_dir):
    db = redshift_database(events=3000)
    # one chunk per commit: chunk 1 (rejects) and 2 commit, chunk 3 fails before landing
    per_chunk = _config(write_config, run_dir, db, "rs_fail", chunk_rows=1000, chunks_per_commit=1)
    grouped = _config(write_config, run_dir, db, "rs_fail", chunk_rows=1000, chunks_per_commit=3)
    table = per_chunk.bronze_table("redshift", "customer_behavior")
    failed = ingest(spark, per_chunk, ["customer_behavior"], src=source.RedshiftSource(on_chunk=_fail_at(3)))[0]
    assert failed.status == "failed" and "injected failure at chunk 3" in failed.error
    saved = StateStore(spark, per_chunk).get("redshift", "customer_behavior")
    assert saved is not None and 0 < spark.table(table).count() <= 1000  # the committed keyset chunk
    # a failure inside a group of three: nothing of that group commits, the cursor stays
    failed = ingest(spark, grouped, ["customer_behavior"], src=source.RedshiftSource(on_chunk=_fail_at(2)))[0]
    assert failed.status == "failed" and "extract" in failed.error and "injected failure at chunk 2" in failed.error
    assert StateStore(spark, per_chunk).get("redshift", "customer_behavior")["cursor"] == saved["cursor"]
    run = ingest(spark, grouped, ["customer_behavior"])[0]
    assert run.status == "success" and run.mode == "incremental" and run.cursor_before == saved["cursor"]
    assert_bronze_matches_source(spark, per_chunk, db, "customer_behavior")


def test_failed_table_is_reported_and_the_others_still_load(loaded):
    failed = loaded["full"]["no_such_table"]
    assert failed.status == "failed" and failed.rows_extracted == 0 and "\n" not in failed.error
    assert "Redshift table public.no_such_table not found" in failed.error
    assert all(loaded["full"][t].status == "success" for t in TABLES)


def test_absent_table_is_a_one_line_error_naming_it(redshift_sandbox, write_config, run_dir):
    config = _config(write_config, run_dir, redshift_sandbox, "rs_absent", tables=[
        {"name": "campaigns_v2", "primary_key": ["id"], "cursor": "updated_at"}])
    with source.RedshiftExtractor(settings(config, "redshift")) as extractor:
        with pytest.raises(SourceError) as err:
            extractor.plan("campaigns_v2")
    assert "campaigns_v2" in str(err.value) and "\n" not in str(err.value)


def test_check_connection(redshift_sandbox, write_config, run_dir):
    config = _config(write_config, run_dir, redshift_sandbox, "rs_check")
    assert source.check_connection(config) == "Redshift connection successful"
    assert source.RedshiftExtractor(settings(config, "redshift")).check() == "Redshift connection successful"


def test_wrong_password_is_one_line_naming_host_and_database_without_the_password(redshift_sandbox, write_config, run_dir):
    config = _config(write_config, run_dir, redshift_sandbox, "rs_badpw")
    config = load_config(path=write_config({"data_sources": {"redshift": {
        "host": redshift_sandbox.host, "port": redshift_sandbox.port, "database": redshift_sandbox.database,
        "username": redshift_sandbox.user, "password": "Wr0ng-s3cret!"}}}))
    with pytest.raises(SourceError) as err:
        source.check_connection(config)
    message = str(err.value)
    assert redshift_sandbox.host in message and redshift_sandbox.database in message
    assert "password authentication failed" in message
    assert "Wr0ng-s3cret!" not in message and "\n" not in message


def test_print_timings():
    print("\nredshift load timings:", {k: round(v, 1) for k, v in TIMINGS.items()})


def test_dlt_source_yields_typed_arrow_chunks_per_configured_table(redshift_sandbox, write_config, run_dir):
    import pyarrow as pa

    config = _config(write_config, run_dir, redshift_sandbox, "rs_dlt")
    src = source.redshift_source(config, tables=["web_analytics"], cursors={"web_analytics": "2026-10-30"})
    assert list(src.resources) == ["web_analytics"]
    chunks = list(src.resources["web_analytics"])
    rows = sum(c.num_rows for c in chunks)
    assert all(isinstance(c, pa.Table) for c in chunks) and rows > 0
    assert chunks[-1].schema.field("bounce_rate").type == pa.decimal128(6, 4)
    # incremental from 2026-10-30 minus the 3-day restatement window
    dates = {d for c in chunks for d in c.column("date").to_pylist()}
    assert min(dates).isoformat() == "2026-10-27"
