"""The four measurements. Each returns a dict for the results JSON (raw figures and ratios)."""
from __future__ import annotations

import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import lake, procs
from bench.configs import dbt_env, write_config
from bench.machine import load_average
from bench.progress import say
from bench.stands import HOST, HubSpot, Redshift

ELT = ["-m", "extract_load"]
TABLE = "customer_behavior"


@dataclass
class Context:
    root: Path            # data/bench/runs/<timestamp>: every run folder and log of this bench
    redshift: Redshift | None
    hubspot: HubSpot | None
    sizes: list[int]
    contacts: int
    budget: int
    keep: bool
    psql: str
    notes: list[str] = field(default_factory=list)
    e2e: dict | None = None  # the end-to-end step's lakehouse, left for the dbt step

    def folder(self, name: str) -> Path:
        path = self.root / name
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        return path

    def tidy(self, path: Path) -> None:
        """Drop a run's data (lakehouse, scratch) once measured; its config and logs stay."""
        if self.keep:
            return
        for name in ("lakehouse", "warehouse", "metastore", "work", "lake", "dlt"):
            shutil.rmtree(path / name, ignore_errors=True)


def _rate(rows: int | None, seconds: float | None) -> float | None:
    return round(rows / seconds, 1) if rows and seconds else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _python(*args: str) -> list[str]:
    return [procs.python(), *args]


# ------------------------------------------------------------------------------ 1. Redshift

def redshift(ctx: Context) -> dict:
    """customer_behavior to bronze at each size: ours, the peer (dlt -> Delta), the floor (psql COPY)."""
    rs = ctx.redshift
    sizes = []
    for events in ctx.sizes:
        database = rs.events_database(events)
        folder = ctx.folder(f"redshift_{events}")
        say(f"redshift {events:,}: floor (psql COPY to /dev/null) ...")
        floor = procs.run([ctx.psql, "-X", "-q", "-h", HOST, "-p", str(rs.port), "-U", rs.info["user"],
                           "-d", database, "-o", "/dev/null",
                           "-c", f"COPY (SELECT * FROM public.{TABLE}) TO STDOUT"],
                          folder / "floor.log", label="floor", env={"PGPASSWORD": rs.info["password"]})
        _check(floor, "floor (psql COPY)")
        say(f"redshift {events:,}: floor {floor.wall_s:.1f} s")

        say(f"redshift {events:,}: ours (python -m extract_load ingest) ...")
        ours_dir = folder / "ours"
        config = write_config(ours_dir, redshift=rs, database=database, redshift_tables=[TABLE])
        load = load_average()
        ours = procs.run(_python(*ELT, "--config", str(config), "ingest", "--source", "redshift", "--table", TABLE),
                         ours_dir / "ingest.log", label=f"ours {events:,}", cwd=str(ours_dir))
        _check(ours, "our ingest")
        run = lake.last_run(ours_dir / "lakehouse", "redshift", TABLE) or {}
        bronze = lake.delta_rows(ours_dir / "lakehouse" / "bronze" / "redshift" / TABLE)
        rejects = lake.delta_rows(ours_dir / "lakehouse" / "bronze" / "redshift" / f"{TABLE}__rejects")
        say(f"redshift {events:,}: ours {ours.wall_s:.1f} s, peak RSS {ours.peak_rss_bytes / 2**30:.2f} GiB")
        ours_result = {**ours.as_dict(), "load_average_before": load, "rows_extracted": run.get("rows_extracted"), "arrow_bytes": run.get("bytes"),
                       "loader_duration_s": run.get("duration_s"), "chunks": run.get("chunks"),
                       "bronze_rows": bronze, "rejected_rows": rejects, "status": run.get("status"),
                       "rows_per_s": _rate(events, ours.wall_s),
                       "rows_per_s_loader": _rate(events, run.get("duration_s"))}
        ctx.tidy(ours_dir)

        say(f"redshift {events:,}: peer (dlt sql_table, pyarrow -> filesystem Delta) ...")
        peer_dir = folder / "peer"
        load = load_average()
        peer = procs.run(_python("-m", "bench.peer", "--dsn", rs.dsn(database), "--table", TABLE, "--out", str(peer_dir)),
                         folder / "peer.log", label=f"peer {events:,}", cwd=str(folder))
        _check(peer, "peer (dlt)")
        peer_out = _last_json(peer.tail)
        say(f"redshift {events:,}: peer {peer.wall_s:.1f} s, peak RSS {peer.peak_rss_bytes / 2**30:.2f} GiB")
        ctx.tidy(peer_dir)

        sizes.append({
            "events": events, "database": database,
            "floor": {**floor.as_dict(), "rows_per_s": _rate(events, floor.wall_s)},
            "ours": ours_result,
            "peer": {**peer.as_dict(), **peer_out, "load_average_before": load, "rows_per_s": _rate(events, peer.wall_s)},
            "ours_over_peer": _ratio(ours.wall_s, peer.wall_s),
            "ours_over_floor": _ratio(ours.wall_s, floor.wall_s),
            "peer_over_floor": _ratio(peer.wall_s, floor.wall_s),
            "ours_rss_over_peer_rss": _ratio(ours.peak_rss_bytes, peer.peak_rss_bytes),
        })
    largest, smallest = sizes[-1], sizes[0]
    return {
        "table": TABLE, "sizes": sizes,
        "at_events": largest["events"],
        "ours_over_peer": largest["ours_over_peer"],
        "ours_over_floor": largest["ours_over_floor"],
        "rss_5m_over_1m": _ratio(largest["ours"]["peak_rss_bytes"], smallest["ours"]["peak_rss_bytes"]),
        "rss_ratio_sizes": [smallest["events"], largest["events"]],
        # issue 5: peak memory at 5N exceeds that at N by less than a chunk (Arrow bytes of one chunk)
        "rss_delta_bytes": largest["ours"]["peak_rss_bytes"] - smallest["ours"]["peak_rss_bytes"],
        "chunk_bytes": _chunk_bytes(largest["ours"]),
        "rss_growth_within_a_chunk": _within_chunk(largest["ours"], smallest["ours"]),
        "definitions": "ratios of wall times (subprocess start to exit; ours includes Spark start); "
                       "rss_5m_over_1m = our peak tree RSS at the largest size / at the smallest",
    }


def _chunk_bytes(ours: dict) -> int | None:
    chunks, nbytes = ours.get("chunks"), ours.get("arrow_bytes")
    return round(nbytes / chunks) if chunks and nbytes else None


def _within_chunk(largest: dict, smallest: dict) -> bool | None:
    chunk = _chunk_bytes(largest)
    # growth, not spread: the JVM's heap settles differently run to run, in either direction
    return None if chunk is None else largest["peak_rss_bytes"] - smallest["peak_rss_bytes"] < chunk


def _check(measured: procs.Measured, what: str) -> None:
    if not measured.ok:
        tail = "\n    ".join(measured.tail)
        raise RuntimeError(f"{what} failed (exit {measured.returncode}); log {measured.log}:\n    {tail}")


def _last_json(lines: list[str]) -> dict:
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return {}


# ------------------------------------------------------------------------------ 2. HubSpot

class _StatsPoller:
    """Polls the stand-in's count of list requests (the record-bearing ones), to time the extraction
    itself: setup requests (properties, search) and the MERGE after it are not in the window."""

    def __init__(self, hubspot: HubSpot, route: str = "list", interval: float = 0.25):
        self.hubspot, self.route, self.interval = hubspot, route, interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                stats = self.hubspot.admin("GET", "stats")
                self.samples.append((time.monotonic(), int(stats.get("by_route", {}).get(self.route, 0))))
            except OSError:
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> "_StatsPoller":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def window(self, budget_window_s: float = 10.0) -> dict:
        """The extraction window: from the last sample before the first list request to the first
        sample after the last one (+-0.25 s). `steady` leaves out the first budget window, in which
        an idle budget lets a burst through faster than the sustained ceiling."""
        if not self.samples or self.samples[-1][1] == self.samples[0][1]:
            return {}
        base, final = self.samples[0][1], self.samples[-1][1]
        start = max(t for t, n in self.samples if n == base)
        end = min(t for t, n in self.samples if n == final)
        result = {"seconds": end - start, "requests": final - base}
        later = [(t, n) for t, n in self.samples if t >= start + budget_window_s]
        if later and end - later[0][0] > budget_window_s / 2:
            result["steady_seconds"] = end - later[0][0]
            result["steady_requests"] = final - later[0][1]
        return result


def hubspot(ctx: Context) -> dict:
    """contacts only (explicit properties, no associations): records/s against the budget's ceiling."""
    hs = ctx.hubspot
    folder = ctx.folder("hubspot_contacts")
    config = write_config(folder, hubspot=hs, hubspot_objects=["contacts"], associations=False)
    hs.admin("POST", "limits", {"ten_second_budget": ctx.budget})
    hs.admin("POST", "reset-stats", {})
    say(f"hubspot: {ctx.contacts:,} contacts at {ctx.budget} requests / 10 s ...")
    load = load_average()
    with _StatsPoller(hs) as poller:
        measured = procs.run(_python(*ELT, "--config", str(config), "ingest", "--source", "hubspot", "--table", "contacts"),
                             folder / "ingest.log", label="hubspot", cwd=str(folder))
    _check(measured, "HubSpot ingest")
    stats = hs.admin("GET", "stats")
    run = lake.last_run(folder / "lakehouse", "hubspot", "contacts") or {}
    records = run.get("rows_extracted") or 0
    window = poller.window()
    per_request = records / window["requests"] if window.get("requests") else None
    ceiling = ctx.budget / 10 * 100  # records/s: the budget's requests per second x 100 records a page
    window_rate = _rate(records, window.get("seconds"))
    steady_rate = (_rate(round(window["steady_requests"] * per_request), window["steady_seconds"])
                   if "steady_seconds" in window and per_request else None)
    loader_rate = _rate(records, run.get("duration_s"))
    ctx.tidy(folder)
    result = {
        "contacts": ctx.contacts, "budget_requests_per_10s": ctx.budget, "ceiling_records_per_s": ceiling,
        "records": records, "bronze_status": run.get("status"),
        "list_requests": window.get("requests"),
        "extract_window_s": round(window["seconds"], 2) if window else None,
        "steady_window_s": round(window["steady_seconds"], 2) if "steady_seconds" in window else None,
        "records_per_s": steady_rate if steady_rate is not None else window_rate,
        "share_of_ceiling": _ratio(steady_rate if steady_rate is not None else window_rate, ceiling),
        "records_per_s_window": window_rate,
        "share_of_ceiling_window": _ratio(window_rate, ceiling),
        "loader_duration_s": run.get("duration_s"),
        "records_per_s_loader": loader_rate,
        "share_of_ceiling_loader": _ratio(loader_rate, ceiling),
        "responses_429": int(stats.get("rate_limited_total", 0)),
        "responses_429_loader": run.get("responses_429"),
        "requests": int(stats.get("requests", 0)),
        "requests_loader": run.get("requests"),
        "wait_seconds": run.get("wait_seconds"),
        "by_route": stats.get("by_route"), "by_status": stats.get("by_status"),
        "process": measured.as_dict(), "load_average_before": load,
        "definitions": "records_per_s / share_of_ceiling: the steady state, from 10 s after the first list "
                       "request (an idle budget lets the first window burst) to the last one; *_window: the "
                       "whole extraction (first to last list request); *_loader: the loader's duration_s "
                       "(setup + extraction + MERGE)",
    }
    say(f"hubspot: {records:,} records, {result['records_per_s']} records/s steady "
        f"({result['share_of_ceiling']} of ceiling; whole window {window_rate}), {result['responses_429']} x 429, waited {run.get('wait_seconds')} s")
    return result


# ------------------------------------------------------------------------------ 3. dbt

def _ingest_all(ctx: Context, config: Path, folder: Path, label: str) -> dict:
    say(f"{label} ...")
    measured = procs.run(_python(*ELT, "--config", str(config), "ingest"), folder / f"{label.replace(' ', '_')}.log",
                         label=label, cwd=str(folder))
    _check(measured, label)
    say(f"{label}: {measured.wall_s:.0f} s")
    return measured.as_dict()


def _dbt_build(ctx: Context, config: Path, folder: Path, name: str) -> dict:
    out = folder / f"{name}.json"
    env = dbt_env(folder / name)
    load = load_average()
    say(f"dbt: {name} (dbt build) ...")
    measured = procs.run(_python("-m", "bench.driver", "--config", str(config), "--out", str(out), "dbt", "build"),
                         folder / f"{name}.log", label=name, env=env, cwd=str(folder))
    timings = json.loads(out.read_text()) if out.exists() else {}
    results = _run_results(Path(env["DBT_TARGET_PATH"]) / "run_results.json")
    say(f"dbt: {name}: dbt {timings.get('dbt', {}).get('seconds')} s, process {measured.wall_s:.0f} s, "
        f"{results.get('statuses')}")
    return {"process": measured.as_dict(), "load_average_before": load, "spark_start_s": timings.get("spark_start_s"),
            "dbt_s": timings.get("dbt", {}).get("seconds"), "success": timings.get("dbt", {}).get("success"),
            **results}


def _run_results(path: Path) -> dict:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    nodes = data.get("results", [])
    statuses: dict[str, int] = {}
    for node in nodes:
        statuses[node["status"]] = statuses.get(node["status"], 0) + 1
    slowest = sorted(nodes, key=lambda n: n.get("execution_time") or 0, reverse=True)[:8]
    models = [n for n in nodes if n["unique_id"].startswith("model.")]
    return {"dbt_elapsed_s": round(data.get("elapsed_time") or 0, 3), "nodes": len(nodes), "statuses": statuses,
            "model_seconds": round(sum(n.get("execution_time") or 0 for n in models), 3),
            "test_seconds": round(sum(n.get("execution_time") or 0 for n in nodes
                                      if n["unique_id"].startswith("test.")), 3),
            "slowest": [{"node": n["unique_id"], "seconds": round(n.get("execution_time") or 0, 2)} for n in slowest]}


def dbt(ctx: Context, events: int, fraction: float = 0.01) -> dict:
    """Full `dbt build`, then ~1% new data (advance + ingest) and an incremental `dbt build`.

    When the end-to-end step ran first in this bench, its lakehouse and its dbt build (a full
    build on fresh bronze, Spark already up) are the full run: the step then only adds the 1%
    and builds again, which saves a second full ingest and build (most of the bench's time).
    """
    rs, hs = ctx.redshift, ctx.hubspot
    base = ctx.e2e
    if base is not None and base.get("events") == events and base.get("dbt_build"):
        folder, config, database = base["folder"], base["config"], base["database"]
        initial = {"reused": "end-to-end step", **base["ingest"]}
        full = base["dbt_build"]
        say(f"dbt: full build = the main job's ({full.get('dbt_s')} s); adding ~{fraction:.0%} ...")
    else:
        folder = ctx.folder("dbt")
        database = rs.copy_database(rs.events_database(events), "bench_dbt")
        hs.admin("POST", "reset", {})
        hs.admin("POST", "limits", {"ten_second_budget": ctx.budget})
        config = write_config(folder, redshift=rs, database=database, hubspot=hs)
        initial = _ingest_all(ctx, config, folder, "dbt initial ingest")
        full = _dbt_build(ctx, config, folder, "dbt_full")

    from sandbox.redshift import generate

    hours = round(fraction * 60 * 24, 2)  # the stand-in adds ~rows/(60 days x 24 h) events per hour
    say(f"dbt: advancing the sources by ~{fraction:.0%} ({hours} h of events; HubSpot updates) ...")
    advanced_rs = generate.advance(rs.conn(database), hours=hours)
    manifest = hs.admin("GET", "manifest")
    counts = {obj: int(info.get("active", 0)) for obj, info in manifest.items()
              if isinstance(info, dict) and "active" in info and obj in ("contacts", "deals", "companies", "tickets")}
    advanced_hs = hs.admin("POST", "advance", {
        "seconds": int(hours * 3600),
        "updates": {obj: max(1, round(n * fraction)) for obj, n in counts.items()},
        "creates": {obj: max(1, round(n * fraction / 2)) for obj, n in counts.items()},
        "object": sorted(counts)})
    incremental_ingest = _ingest_all(ctx, config, folder, "dbt incremental ingest")
    incremental = _dbt_build(ctx, config, folder, "dbt_incremental")
    ctx.tidy(folder)
    return {
        "events": events, "fraction": fraction,
        "advance": {"redshift": advanced_rs, "hubspot": {obj: {what: len(v) if isinstance(v, list) else v for what, v in change.items()}
                                                        for obj, change in advanced_hs.get("changes", {}).items()}},
        "initial_ingest": initial, "incremental_ingest": incremental_ingest,
        "full": full, "incremental": incremental,
        "incremental_over_full": _ratio(incremental.get("dbt_s"), full.get("dbt_s")),
        "definitions": "incremental_over_full = dbt's own time (dbtRunner.invoke, Spark already up) of the "
                       "second build / the first; the first is the end-to-end step's build when it ran in "
                       "the same bench (same data, same configuration)",
    }


# ------------------------------------------------------------------------------ 4. end to end

def end_to_end(ctx: Context, events: int) -> dict:
    """The main job (`demo --skip-sandbox`'s sequence) on fresh bronze, stage by stage.

    Its lakehouse is left for the dbt step (`ctx.e2e`), which builds incrementally on top of it.
    """
    rs, hs = ctx.redshift, ctx.hubspot
    folder = ctx.folder("end_to_end")
    database = rs.copy_database(rs.events_database(events), "bench_e2e")
    hs.admin("POST", "reset", {})
    hs.admin("POST", "limits", {"ten_second_budget": ctx.budget})
    config = write_config(folder, redshift=rs, database=database, hubspot=hs)
    out = folder / "stages.json"
    say("end to end: the main job (Spark, ingest every table, dbt build, dbt docs generate) ...")
    load = load_average()
    env = dbt_env(folder)
    measured = procs.run(_python("-m", "bench.driver", "--config", str(config), "--out", str(out), "demo"),
                         folder / "demo.log", label="main job", env=env, cwd=str(folder))
    stages = json.loads(out.read_text()) if out.exists() else {}
    if not measured.ok:
        why = (f"killed by signal {-measured.returncode} from outside the bench" if measured.returncode < 0
               else f"exited {measured.returncode}")
        ctx.notes.append(f"end to end: the main job {why} (log {measured.log})")
    say(f"end to end: {measured.wall_s:.0f} s")
    build = stages.get("dbt_build")
    if measured.returncode >= 0 and build:  # a failing dbt test still leaves a full build to compare with
        results = _run_results(Path(env["DBT_TARGET_PATH"]) / "run_results_build.json")
        ctx.e2e = {"events": events, "folder": folder, "config": config, "database": database,
                   "ingest": {"wall_s": stages.get("ingest_s")},
                   "dbt_build": {"process": measured.as_dict(), "load_average_before": load,
                                 "spark_start_s": stages.get("spark_start_s"), "dbt_s": build.get("seconds"),
                                 "success": build.get("success"), "in": "end-to-end main job", **results}}
    else:
        ctx.tidy(folder)
    return {"events": events, "process": measured.as_dict(), "load_average_before": load, "stages": stages}
