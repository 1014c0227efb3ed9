"""dbt's results as rows of `ops.dq_results`: one per test node or source freshness check.

dbt writes `run_results.json` (tests of `dbt build` / `dbt test`) and `sources.json`
(`dbt source freshness`) to its target folder; `manifest.json` beside them says what each test
is (its rule, severity, column and the table it is attached to).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path

from extract_load.config import Config
from extract_load import ops

log = logging.getLogger(__name__)
DQ_TABLE = ops.DQ_RESULTS.name


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def _table_of(node: dict, manifest: dict) -> str:
    """`source.table` for a source test, the model name for a model test."""
    for parent in node.get("depends_on", {}).get("nodes", []):
        if parent.startswith("source.") and parent in manifest.get("sources", {}):
            source = manifest["sources"][parent]
            return f"{source['source_name']}.{source['name']}"
    attached = node.get("attached_node")
    if attached and attached in manifest.get("nodes", {}):
        return manifest["nodes"][attached]["name"]
    for parent in node.get("depends_on", {}).get("nodes", []):
        if parent in manifest.get("nodes", {}):
            return manifest["nodes"][parent]["name"]
    return ""


def parse_dbt_artifacts(target_dir: str | Path, run_label: str | None = None, only: str | None = None) -> list[dict]:
    """Rows for `ops.dq_results` from the artifacts in `target_dir`.

    Reads `run_results.json` (test nodes only) and `sources.json` (freshness), whichever exist
    (or just the file named by `only`); `manifest.json` supplies rule, severity, column and table.
    Returns [] when there is nothing.
    """
    target = Path(target_dir)
    manifest_file = target / "manifest.json"
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {"nodes": {}, "sources": {}}
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows: list[dict] = []

    run_results = target / "run_results.json"
    if run_results.exists() and only in (None, run_results.name):
        data = json.loads(run_results.read_text())
        meta = data.get("metadata", {})
        command = (data.get("args") or {}).get("which", "")
        for result in data.get("results", []):
            uid = result.get("unique_id", "")
            if not uid.startswith("test."):
                continue
            node = manifest.get("nodes", {}).get(uid, {})
            config = node.get("config", {})
            metadata = node.get("test_metadata") or {}
            rows.append({
                "invocation_id": meta.get("invocation_id"), "run_label": run_label, "command": command,
                "generated_at": _timestamp(meta.get("generated_at")), "unique_id": uid,
                "test_name": node.get("name") or uid.split(".")[2], "rule": metadata.get("name") or "singular",
                "table_name": _table_of(node, manifest), "column_name": node.get("column_name"),
                "severity": str(config.get("severity") or "error").lower(), "status": result.get("status"),
                "failures": result.get("failures"), "message": result.get("message"),
                "execution_time": float(result.get("execution_time") or 0.0), "recorded_at": now,
            })

    freshness = target / "sources.json"
    if freshness.exists() and only in (None, freshness.name):
        data = json.loads(freshness.read_text())
        meta = data.get("metadata", {})
        for result in data.get("results", []):
            uid = result.get("unique_id", "")
            source = manifest.get("sources", {}).get(uid, {})
            table = f"{source['source_name']}.{source['name']}" if source else ".".join(uid.split(".")[-2:])
            age = result.get("max_loaded_at_time_ago_in_s")
            status = result.get("status")
            message = result.get("error") or (f"last load {age / 3600:.1f} h ago" if age is not None else None)
            rows.append({
                "invocation_id": meta.get("invocation_id"), "run_label": run_label, "command": "source freshness",
                "generated_at": _timestamp(meta.get("generated_at")), "unique_id": uid,
                "test_name": f"source_freshness_{table.replace('.', '_')}", "rule": "freshness",
                "table_name": table, "column_name": source.get("loaded_at_field"),
                "severity": "error" if status in ("error", "runtime error") else "warn",
                "status": status, "failures": None, "message": message,
                "execution_time": float(result.get("execution_time") or 0.0), "recorded_at": now,
            })
    return rows


def rows_missing_from_artifacts(result, rows: list[dict], target_dir: str | Path, run_label: str | None = None,
                                command: str = "") -> list[dict]:
    """Rows for checks dbt's in-memory result has but its artifact left out.

    `sources.json` omits sources whose freshness query failed (a bronze table that does not
    exist yet): they come back here with status `runtime error` and dbt's message.
    """
    executed = getattr(getattr(result, "result", None), "results", None) or []
    known = {row["unique_id"] for row in rows}
    manifest_file = Path(target_dir) / "manifest.json"
    sources = json.loads(manifest_file.read_text()).get("sources", {}) if manifest_file.exists() else {}
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    extra: list[dict] = []
    for item in executed:
        uid = getattr(item, "unique_id", None) or getattr(getattr(item, "node", None), "unique_id", None)
        if not uid or uid in known or not (uid.startswith("source.") or uid.startswith("test.")):
            continue
        status = getattr(getattr(item, "status", None), "value", None) or str(getattr(item, "status", "") or "")
        source = sources.get(uid, {})
        table = f"{source['source_name']}.{source['name']}" if source else ".".join(uid.split(".")[-2:])
        freshness = uid.startswith("source.")
        extra.append({
            "invocation_id": None, "run_label": run_label, "command": command, "generated_at": now,
            "unique_id": uid, "test_name": f"source_freshness_{table.replace('.', '_')}" if freshness else uid.split(".")[2],
            "rule": "freshness" if freshness else "unknown", "table_name": table,
            "column_name": source.get("loaded_at_field") if freshness else None, "severity": "error",
            "status": status, "failures": None,
            "message": str(getattr(item, "error", None) or getattr(item, "message", None) or "")[:1000] or None,
            "execution_time": float(getattr(item, "execution_time", 0.0) or 0.0), "recorded_at": now,
        })
    invocation = next((r["invocation_id"] for r in rows if r.get("invocation_id")), None)
    for row in extra:
        row["invocation_id"] = invocation
    return extra


def record_dq_results(spark, config: Config, rows: list[dict]) -> int:
    """Append rows to `ops.dq_results` (created on first use); returns how many were written."""
    if not rows:
        return 0
    ops.append(spark, config, ops.DQ_RESULTS, ops.rows_of(ops.DQ_RESULTS, rows))
    return len(rows)
