"""The main job on the embedded default, in one process (`make demo`): the stand-ins up, every
catalogued table ingested, `dbt build`, the docs site generated.

One process, so Spark starts once and the embedded metastore has one holder.
"""
from __future__ import annotations

import logging

from extract_load.config import Config
from extract_load.errors import ConfigError, PipelineError

log = logging.getLogger(__name__)


def run(config: Config, start_sandbox: bool = True, debug: bool = False) -> int:
    """0 when every table loaded and dbt built; 1 when a table failed. Raises PipelineError when
    dbt fails (the log file is named)."""
    from extract_load.cli import format_runs, jvm_log
    from extract_load.dbt_runner import run_dbt
    from extract_load.ingest import run_ingest
    from extract_load.spark import build_spark, log_jvm_to, release_spark
    from sandbox.services import up

    if not debug:
        log_jvm_to(jvm_log(config))
    if not config.sandbox.enabled:
        raise ConfigError(f"{config.source_file}: sandbox.enabled is false: the demo runs on the local default")
    if start_sandbox:
        up(config)
    spark = build_spark(config)
    try:
        runs = run_ingest(spark, config)
        print(format_runs(runs))
        for title, dbt_args in [("dbt build", ["build"]), ("dbt docs generate", ["docs", "generate"])]:
            log.info("%s ...", title)
            if not run_dbt(config, dbt_args).success:
                raise PipelineError(f"{title} failed: see dbt_project/logs/dbt.log")
    finally:
        release_spark()
    print("demo finished: bronze, silver and gold are built; `make docs` serves the docs site")
    return 1 if any(r.status == "failed" for r in runs) else 0
