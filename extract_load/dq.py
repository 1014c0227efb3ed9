"""The data-quality runner for what has landed: the dbt tests and freshness checks on bronze.

Each rule is defined once, in dbt (`dbt_project/models/staging/*/_*__sources.yml` and the test
macros); this module only selects the source tests, runs them with `dbt test` and
`dbt source freshness`, and turns dbt's artifacts into structured results. Models are not built.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from extract_load.config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    table: str
    rule: str
    column: str | None
    severity: str  # error | warn
    status: str  # pass | warn | fail | error | runtime error
    failing_rows: int | None
    failures_stored_in: str | None
    test: str

    @property
    def is_error(self) -> bool:
        """An error-severity check that did not pass (or could not run) stops the pipeline."""
        return self.status in ("fail", "error", "runtime error")


def _selector(source: str | None, table: str | None) -> str:
    if table and source:
        return f"source:{source}.{table}"
    if table:
        return f"source:*.{table}"
    return f"source:{source}" if source else "source:*"


class ExternalDataQualityChecker:
    """Runs the bronze data-quality rules, as the seed guide's users call it.

    >>> results = ExternalDataQualityChecker(spark, config).run_all_external_data_quality_checks()
    """

    def __init__(self, spark, config: Config):
        self.spark = spark  # dbt's session method reuses this process's Spark session
        self.config = config

    def run_all_external_data_quality_checks(self, source: str | None = None, table: str | None = None,
                                             freshness: bool = True) -> list[CheckResult]:
        from extract_load.dbt_runner import project_dir, run_dbt
        from extract_load.monitoring.dq import parse_dbt_artifacts, record_dq_results

        selector = _selector(source, table)
        target = Path(project_dir(self.config)) / "target"
        rows: list[dict] = []
        result = run_dbt(self.config, ["test", "--select", selector, "--store-failures"])
        if result.exception is not None:
            raise RuntimeError(f"dbt test could not run: {result.exception}")
        rows += parse_dbt_artifacts(target, run_label="dq", only="run_results.json")
        if freshness:
            run_dbt(self.config, ["source", "freshness", "--select", selector])
            rows += parse_dbt_artifacts(target, run_label="dq", only="sources.json")
        record_dq_results(self.spark, self.config, rows)
        stored = _stored_failures(target)
        return [CheckResult(
            table=row["table_name"], rule=row["rule"], column=row.get("column_name"), severity=row["severity"],
            status=str(row["status"]), failing_rows=row.get("failures"),
            failures_stored_in=stored.get(row["unique_id"]) if row.get("failures") else None,
            test=row["test_name"]) for row in rows]


def _stored_failures(target: Path) -> dict[str, str]:
    """Test id -> the table where dbt stored its failing rows (`--store-failures`)."""
    manifest = target / "manifest.json"
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text()).get("nodes", {})
    return {uid: node["relation_name"] for uid, node in nodes.items()
            if uid.startswith("test.") and node.get("relation_name")}


def format_results(results: list[CheckResult]) -> str:
    header = f"{'table':<36} {'rule':<28} {'column':<18} {'severity':<8} {'status':<8} {'failing':>8}  stored in"
    lines = [header, "-" * len(header)]
    for r in sorted(results, key=lambda r: (r.table, r.rule, r.column or "")):
        failing = "" if r.failing_rows is None else f"{r.failing_rows:,}"
        lines.append(f"{r.table:<36} {r.rule:<28} {(r.column or ''):<18} {r.severity:<8} {r.status:<8} "
                     f"{failing:>8}  {r.failures_stored_in or ''}")
    failed = sum(r.is_error for r in results)
    warned = sum(r.status == "warn" for r in results)
    lines.append(f"{len(results)} checks: {failed} failed, {warned} warned")
    return "\n".join(lines)
