"""Stage timers run inside the measured subprocess (`python -m bench.driver ...`).

`demo`: the main job exactly as `python -m sandbox demo --skip-sandbox` runs it (one Spark
session; ingest of every configured table; `dbt build`; `dbt docs generate`), each stage timed.
`dbt ARGS...`: Spark start, then one dbt command, timed apart.
The timings are written as JSON to `--out`.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time


def _save(path: str, stages: dict) -> None:
    """Written after every stage: an interrupted run still leaves the stages it finished."""
    with open(path, "w") as handle:
        json.dump(stages, handle, indent=2)


def _dbt(config, args: list[str], keep_as: str | None = None) -> dict:
    """One dbt command, timed; `keep_as` copies its run_results.json aside (the next command
    in the same target folder overwrites it)."""
    import os
    import shutil

    from extract_load.dbt_runner import run_dbt

    started = time.monotonic()
    result = run_dbt(config, args)
    seconds = round(time.monotonic() - started, 3)
    target = os.environ.get("DBT_TARGET_PATH")
    if keep_as and target and os.path.exists(os.path.join(target, "run_results.json")):
        shutil.copyfile(os.path.join(target, "run_results.json"), os.path.join(target, f"run_results_{keep_as}.json"))
    return {"seconds": seconds, "success": bool(result.success)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.driver")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("what", choices=["demo", "dbt"])
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)-7s %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("py4j", "dlt", "urllib3", "filelock", "redshift_connector"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stages: dict = {}
    started = time.monotonic()
    from extract_load.config import load_config
    from extract_load.spark import build_spark

    config = load_config(path=args.config)
    stages["imports_s"] = round(time.monotonic() - started, 3)
    t = time.monotonic()
    spark = build_spark(config)
    stages["spark_start_s"] = round(time.monotonic() - t, 3)
    _save(args.out, stages)
    ok = True
    if args.what == "demo":
        from extract_load.cli import format_runs
        from extract_load.ingest import run_ingest

        t = time.monotonic()
        runs = run_ingest(spark, config)
        stages["ingest_s"] = round(time.monotonic() - t, 3)
        print(format_runs(runs), file=sys.stderr)
        stages["tables"] = {f"{r.source}.{r.object}": {"seconds": r.duration_s, "rows": r.rows_extracted,
                                                       "status": r.status} for r in runs}
        stages["ingest_other_s"] = round(stages["ingest_s"] - sum(r.duration_s for r in runs), 3)
        ok = all(r.status != "failed" for r in runs)
        _save(args.out, stages)
        stages["dbt_build"] = _dbt(config, ["build"], keep_as="build")
        _save(args.out, stages)
        stages["dbt_docs_generate"] = _dbt(config, ["docs", "generate"])
        ok = ok and stages["dbt_build"]["success"] and stages["dbt_docs_generate"]["success"]
    else:
        stages["dbt"] = _dbt(config, args.rest)
        ok = stages["dbt"]["success"]
    stages["total_s"] = round(time.monotonic() - started, 3)
    _save(args.out, stages)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
