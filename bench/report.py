"""The one table `python -m bench` prints (and the README's Performance section shows)."""
from __future__ import annotations

TARGETS = {
    "redshift.ours_over_peer": ("<=", 1.0),
    "redshift.rss_5m_over_1m": ("<=", 1.2),
    "hubspot.share_of_ceiling": (">=", 0.9),
    "hubspot.responses_429": ("<=", 0),
    "dbt.incremental_over_full": ("<=", 0.4),
}


def _n(value, fmt: str = "{:,.0f}", none: str = "-") -> str:
    return none if value is None else fmt.format(value)


def _gib(value) -> str:
    return "-" if not value else f"{value / 2**30:.2f} GiB"


def verdict(results: dict, key: str) -> str:
    section, _, name = key.partition(".")
    value = (results.get(section) or {}).get(name)
    if value is None:
        return "n/a"
    op, target = TARGETS[key]
    ok = value <= target if op == "<=" else value >= target
    return "met" if ok else "MISSED"


def table(results: dict) -> str:
    rows: list[tuple[str, str, str, str]] = []  # measure, value, detail, target
    rs = results.get("redshift") or {}
    for size in rs.get("sizes", []):
        n = size["events"]
        for who, label in (("floor", "floor: psql COPY"), ("peer", "peer: dlt sql_table -> Delta"),
                           ("ours", "ours: extract_load ingest")):
            m = size[who]
            detail = f"{_n(m.get('rows_per_s'))} rows/s"
            if who != "floor":
                detail += f", peak RSS {_gib(m.get('peak_rss_bytes'))}, CPU {_n(m.get('cpu_s'))} s"
            if who == "ours" and m.get("loader_duration_s"):
                detail += f" (loader {m['loader_duration_s']:.0f} s)"
            rows.append((f"redshift {n:,} {label}", f"{m['wall_s']:.1f} s", detail, ""))
        rows.append((f"redshift {n:,} ours/peer, ours/floor", f"{_n(size['ours_over_peer'], '{:.2f}')}",
                     f"ours/floor {_n(size['ours_over_floor'], '{:.1f}')}", ""))
    if rs.get("sizes"):
        rows.append(("redshift ours/peer (largest size)", _n(rs.get("ours_over_peer"), "{:.2f}"), "",
                     f"<= 1.0 {verdict(results, 'redshift.ours_over_peer')}"))
        rows.append(("redshift peak RSS largest/smallest", _n(rs.get("rss_5m_over_1m"), "{:.2f}"),
                     " / ".join(f"{n:,}" for n in rs.get("rss_ratio_sizes", [])),
                     f"<= 1.2 {verdict(results, 'redshift.rss_5m_over_1m')}"))
        if rs.get("chunk_bytes"):
            rows.append(("redshift peak RSS largest - smallest", f"{rs['rss_delta_bytes'] / 2**20:+,.0f} MiB",
                         f"one chunk = {rs['chunk_bytes'] / 2**20:,.0f} MiB (Arrow)",
                         "< 1 chunk " + ("met" if rs.get("rss_growth_within_a_chunk") else "MISSED")))
    elif rs.get("error"):
        rows.append(("redshift", "error", rs["error"][:60], ""))
    hs = results.get("hubspot") or {}
    if "records" in hs:
        rows.append((f"hubspot {hs['records']:,} contacts, {hs['budget_requests_per_10s']} req/10 s",
                     f"{_n(hs.get('records_per_s'))} rec/s",
                     f"ceiling {_n(hs['ceiling_records_per_s'])} rec/s; {hs.get('list_requests')} list requests "
                     f"in {_n(hs.get('extract_window_s'), '{:.1f}')} s",
                     ""))
        rows.append(("hubspot share of ceiling (steady)", _n(hs.get("share_of_ceiling"), "{:.0%}"),
                     f"whole extraction {_n(hs.get('share_of_ceiling_window'), '{:.0%}')}, "
                     f"whole run with MERGE {_n(hs.get('share_of_ceiling_loader'), '{:.0%}')}",
                     f">= 90% {verdict(results, 'hubspot.share_of_ceiling')}"))
        rows.append(("hubspot 429s / waited", f"{hs.get('responses_429')}",
                     f"{_n(hs.get('wait_seconds'), '{:.1f}')} s waited, {hs.get('requests')} requests",
                     f"0 {verdict(results, 'hubspot.responses_429')}"))
    elif hs.get("error"):
        rows.append(("hubspot", "error", hs["error"][:60], ""))
    dbt = results.get("dbt") or {}
    if "full" in dbt:
        for name in ("full", "incremental"):
            m = dbt[name]
            where = f"; {m['in']}" if m.get("in") else ""
            rows.append((f"dbt build, {name} ({dbt['events']:,} events)", f"{_n(m.get('dbt_s'), '{:.1f}')} s",
                         f"{m.get('nodes')} nodes {m.get('statuses')}{where}", ""))
        rows.append(("dbt incremental/full", _n(dbt.get("incremental_over_full"), "{:.2f}"),
                     f"~{dbt['fraction']:.0%} new data", f"<= 0.40 {verdict(results, 'dbt.incremental_over_full')}"))
    elif dbt.get("error"):
        rows.append(("dbt", "error", dbt["error"][:60], ""))
    e2e = results.get("e2e") or {}
    stages = e2e.get("stages") or {}
    if stages:
        rows.append((f"main job, total ({e2e['events']:,} events)", f"{e2e['process']['wall_s']:.0f} s",
                     "process start to exit", ""))
        rows.append(("  Spark start", f"{_n(stages.get('spark_start_s'), '{:.1f}')} s", "", ""))
        for table_name, t in (stages.get("tables") or {}).items():
            rows.append((f"  ingest {table_name}", f"{t['seconds']:.1f} s", f"{t['rows']:,} rows, {t['status']}", ""))
        rows.append(("  ingest: run records (ops)", f"{_n(stages.get('ingest_other_s'), '{:.1f}')} s", "", ""))
        for key, label in (("dbt_build", "dbt build"), ("dbt_docs_generate", "dbt docs generate")):
            if key in stages:
                rows.append((f"  {label}", f"{stages[key]['seconds']:.1f} s",
                             "ok" if stages[key]["success"] else "FAILED", ""))
    elif e2e.get("error"):
        rows.append(("main job", "error", e2e["error"][:60], ""))
    widths = [max(len(r[i]) for r in rows + [("measure", "value", "detail", "target")]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(w) if i != 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    machine = results.get("machine", {})
    head = (f"bench {results.get('started_at')} ({results.get('mode')}) on {machine.get('cpu_count')} x "
            f"{machine.get('cpu_model')}, {machine.get('memory_gib')} GiB; load average "
            f"{machine.get('load_average_start')} -> {machine.get('load_average_end')}")
    out = [head, line(("measure", "value", "detail", "target")), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)

