"""`python -m extract_load status`: last run, rows, duration, freshness and failures per table."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from extract_load import status
from extract_load.sources.registry import load_config
from extract_load.load.runs import RunMetrics, record_runs

NOW = datetime(2026, 11, 25, 12, 0, 0)


def row(source, obj, status_, minutes_ago, **extra):
    started = NOW - timedelta(minutes=minutes_ago)
    return {"run_id": f"{obj}-{minutes_ago}", "load_id": f"load-{minutes_ago}", "source": source, "object": obj,
            "status": status_, "started_at": started, "finished_at": started + timedelta(seconds=30),
            "rows_extracted": extra.pop("rows", 0), "duration_s": extra.pop("duration", 30.0), **extra}


def test_health_per_table(base_config):
    runs = [
        row("redshift", "marketing_campaigns", "success", 30, rows=120),                 # hourly, fresh
        row("redshift", "web_analytics", "success", 60 * 30, rows=50),                   # daily, 30 h old: stale
        row("hubspot", "contacts", "failed", 10, error="Connection refused token=abc123secret"),
        row("hubspot", "contacts", "success", 70, rows=400, responses_429=3),
        row("hubspot", "deals", "empty", 20),                                            # nothing new is fresh
        row("hubspot", "deals", "success", 60 * 24 * 3, rows=10),
    ]
    dq = [{"invocation_id": "b", "generated_at": NOW, "table_name": "hubspot.contacts", "status": "fail"},
          {"invocation_id": "b", "generated_at": NOW, "table_name": "hubspot.contacts", "status": "warn"},
          {"invocation_id": "a", "generated_at": NOW - timedelta(hours=1), "table_name": "hubspot.contacts",
           "status": "fail"}]
    by_table = {s.table: s for s in status.collect_status(base_config, runs, dq, now=NOW)}
    assert set(by_table) == {f"{s}.{t}" for s, t in base_config.source_tables()}
    assert by_table["redshift.marketing_campaigns"].health(NOW) == "ok"
    assert by_table["redshift.web_analytics"].health(NOW) == "stale"
    contacts = by_table["hubspot.contacts"]
    assert contacts.health(NOW) == "failing" and contacts.last_load_id == "load-10"
    assert (contacts.failures_24h, contacts.runs_24h, contacts.responses_429_24h) == (1, 2, 3)
    assert (contacts.dq_failed, contacts.dq_warned) == (1, 1)  # the latest dbt invocation only
    assert "abc123secret" not in contacts.last_error and "refused" in contacts.last_error
    assert by_table["hubspot.deals"].health(NOW) == "ok"
    assert by_table["hubspot.tickets"].health(NOW) == "never"

    text = status.format_status(list(by_table.values()), now=NOW)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["table", "freq", "health", "last"]
    line = next(l for l in lines if l.startswith("hubspot.contacts"))
    assert "failing" in line and "1/2" in line and " 10m " not in line
    assert "last error:" in text


def test_main_reads_the_ops_tables(spark, write_config, run_dir, capsys):
    config = load_config(path=write_config({"lakehouse": {"root": str(run_dir / "status-lake"),
                                                           "ops_schema": "ops_status_test"}}))
    assert status.main(config, spark) == 1  # nothing loaded yet: every table "never"
    assert "never" in capsys.readouterr().out

    runs = []
    for source, table in config.source_tables():
        metrics = RunMetrics(run_id=f"s-{table}", load_id="20261125T120000000000Z-5a7a75", source=source, object=table)
        metrics.rows_extracted = 42
        runs.append(metrics.finish())
    record_runs(spark, config, runs)
    assert status.main(config, spark) == 0
    out = capsys.readouterr().out
    for source, table in config.source_tables():
        line = next(l for l in out.splitlines() if l.startswith(f"{source}.{table} "))
        assert " ok " in line and " success " in line and " 42 " in line
