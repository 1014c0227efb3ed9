"""`python -m extract_load`: the command line of the pipeline.

Errors the user can fix are printed as one line (`error: <file/key/table>: <problem>`) with a
non-zero exit: 2 for configuration, 1 for everything else. Tracebacks only with `--debug`.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from extract_load.config import Config
from extract_load.errors import ConfigError, PipelineError
from extract_load.sources import registry

log = logging.getLogger("extract_load")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m extract_load",
        description="Land Redshift and HubSpot data in bronze Delta tables and model it with dbt.")
    sources = registry.names()
    parser.add_argument("--env", help="environment: reads config/<ENV>.yaml (default: $ELT_ENV or 'default')")
    parser.add_argument("--config", metavar="PATH", help="a config file outside config/ (overrides --env)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ingest = sub.add_parser("ingest", help="extract source tables and MERGE them into bronze")
    ingest.add_argument("--source", choices=sources, help="only this source")
    ingest.add_argument("--table", action="append", help="only this table/object (repeatable)")
    ingest.add_argument("--frequency", choices=["real-time", "hourly", "daily"], help="only tables of this frequency")
    ingest.add_argument("--full-refresh", action="store_true", help="ignore stored cursors and reload everything")
    ingest.add_argument("--accept-type-change", action="append", default=[], metavar="TABLE.COLUMN",
                        help="rewrite a bronze column to its new source type (e.g. bronze.hubspot_deals.amount)")

    check = sub.add_parser("check", help="test the connection to a source")
    check.add_argument("source", choices=[*sources, "all"])

    sub.add_parser("config", help="print the resolved configuration (secrets masked)")

    dq = sub.add_parser("dq", help="run the data-quality rules on bronze (dbt source tests and freshness)")
    dq.add_argument("--source", choices=sources)
    dq.add_argument("--table")
    dq.add_argument("--no-freshness", action="store_true", help="skip `dbt source freshness`")

    sub.add_parser("status", help="last run per table: rows, duration, freshness, failures")

    forget = sub.add_parser("forget", help="erase a person from every bronze, silver and gold table (GDPR/CCPA)")
    forget.add_argument("--email")
    forget.add_argument("--contact-id", help="HubSpot contact id")
    forget.add_argument("--user-id", help="Amplitude user id")
    forget.add_argument("--vacuum-hours", type=int, help="VACUUM retention after the delete (default: maintenance.retain_hours)")

    sub.add_parser("retention", help="delete rows older than each table's retention_days, then VACUUM")

    maintain = sub.add_parser("maintain", help="compact (OPTIMIZE, Z-ORDER) and VACUUM bronze and silver tables")
    maintain.add_argument("--table", action="append", help="only this table, e.g. bronze.redshift_customer_behavior")
    maintain.add_argument("--retain-hours", type=int, help="VACUUM retention (default: maintenance.retain_hours)")
    maintain.add_argument("--no-vacuum", action="store_true", help="compact only")

    dbt = sub.add_parser("dbt", help="run dbt with this environment's Spark settings (e.g. `dbt build`)")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.debug)
    try:
        config = registry.load_config(env=args.env, path=args.config)
        if not args.debug:  # the JVM's warnings and stack traces go to a file; --debug shows them
            from extract_load.spark import log_jvm_to

            log_jvm_to(jvm_log(config))
        return COMMANDS[args.command](config, args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: {type(exc).__name__}: {first} (run with --debug for the traceback)", file=sys.stderr)
        return 1


def jvm_log(config: Config) -> str:
    """Where a command's Spark JVM writes (start-up warnings, Spark's own logs, Java stack traces)."""
    return os.path.join(config.work_path, "logs", "spark.log")


def run() -> None:
    """The process entry point (`python -m extract_load`, `extract-load`): `main`, then Spark's
    JVM stopped before the process exits, so a command started right after finds the embedded
    metastore free."""
    try:
        code = main()
    finally:
        if "pyspark" in sys.modules:
            from extract_load.spark import release_spark

            release_spark()
    sys.exit(code)


def _configure_logging(debug: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "dlt", "urllib3", "botocore", "boto3", "redshift_connector", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_ingest(config: Config, args) -> int:
    from extract_load.ingest import IngestOptions, run_ingest, select_tables
    from extract_load.spark import build_spark

    select_tables(config, args.source, args.table, args.frequency)  # fail on a bad selection before Spark starts
    options = IngestOptions(full_refresh=args.full_refresh, accept_type_change=frozenset(args.accept_type_change))
    runs = run_ingest(build_spark(config), config, args.source, args.table, args.frequency, options)
    print(format_runs(runs))
    return 1 if any(r.status == "failed" for r in runs) else 0


def format_runs(runs) -> str:
    header = f"{'table':<34} {'status':<8} {'rows':>9} {'new':>9} {'upd':>9} {'rej':>6} {'secs':>7}  cursor"
    lines = [header, "-" * len(header)]
    for r in runs:
        lines.append(f"{r.source + '.' + r.object:<34} {r.status:<8} {r.rows_extracted:>9,} {r.rows_inserted:>9,} "
                     f"{r.rows_updated:>9,} {r.rows_rejected:>6,} {r.duration_s:>7.1f}  {r.cursor_after or ''}")
        if r.error:
            lines.append(f"    error: {r.error}")
    return "\n".join(lines)


def cmd_check(config: Config, args) -> int:
    sources = config.configured_sources() if args.source == "all" else [args.source]
    failed = 0
    for name in sources:
        settings = registry.settings(config, name)  # ConfigError when not configured
        try:
            print(registry.get(name).check(settings))
        except PipelineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_config(config: Config, args) -> int:
    import yaml

    shown = config.model_dump(mode="json", by_alias=True)
    # each source's settings as its own model shows them: secrets masked
    shown["data_sources"] = {name: registry.settings(config, name).model_dump(mode="json", by_alias=True)
                             for name in config.configured_sources()}
    print(yaml.safe_dump(shown, sort_keys=False).rstrip())
    return 0


def cmd_dq(config: Config, args) -> int:
    from extract_load.dq import ExternalDataQualityChecker, format_results
    from extract_load.spark import build_spark

    from extract_load.ingest import select_tables

    select_tables(config, args.source, [args.table] if args.table else None, None)  # unknown names: one line
    checker = ExternalDataQualityChecker(build_spark(config), config)
    results = checker.run_all_external_data_quality_checks(args.source, args.table, freshness=not args.no_freshness)
    print(format_results(results))
    return 1 if any(r.is_error for r in results) else 0


def cmd_status(config: Config, args) -> int:
    from extract_load import status

    return status.main(config)


def cmd_forget(config: Config, args) -> int:
    from extract_load.privacy import forget
    from extract_load.spark import build_spark

    deleted = forget(build_spark(config), config, args.email, args.contact_id, args.user_id, args.vacuum_hours)
    for table, rows in sorted(deleted.items()):
        print(f"{table:<50} {rows:>8,} row(s) erased")
    print(f"erased from {len(deleted)} table(s); recorded in {config.ops_table('erasures')}")
    return 0


def cmd_retention(config: Config, args) -> int:
    from extract_load.privacy import apply_retention
    from extract_load.spark import build_spark

    for table, rows in sorted(apply_retention(build_spark(config), config).items()):
        print(f"{table:<50} {rows:>8,} row(s) past retention removed")
    return 0


def cmd_maintain(config: Config, args) -> int:
    from extract_load.maintain import format_results, maintain
    from extract_load.spark import build_spark

    retain = config.maintenance.retain_hours if args.retain_hours is None else args.retain_hours
    results = maintain(build_spark(config), config, args.table, retain_hours=retain, vacuum=not args.no_vacuum)
    print(format_results(results))
    return 0


_DBT_CONNECTS = {"build", "run", "test", "seed", "snapshot", "source", "docs", "compile", "show", "run-operation"}


def cmd_dbt(config: Config, args) -> int:
    from extract_load.dbt_runner import run_dbt

    if config.dbt.target == "local" and args.dbt_args and args.dbt_args[0] in _DBT_CONNECTS:
        # dbt's session method reuses this session: one catalog holder, which waits its turn
        from extract_load.spark import build_spark

        build_spark(config)
    result = run_dbt(config, list(args.dbt_args))
    return 0 if result.success else 1


COMMANDS = {
    "ingest": cmd_ingest,
    "check": cmd_check,
    "config": cmd_config,
    "maintain": cmd_maintain,
    "forget": cmd_forget,
    "retention": cmd_retention,
    "dq": cmd_dq,
    "status": cmd_status,
    "dbt": cmd_dbt,
}
