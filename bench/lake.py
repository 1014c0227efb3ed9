"""Reading what a measured run left in its lakehouse, without Spark (the deltalake package)."""
from __future__ import annotations

from pathlib import Path


def ingest_runs(lakehouse: Path) -> list[dict]:
    """Rows of ops.ingest_runs, oldest first; [] when the table is absent."""
    from deltalake import DeltaTable

    path = lakehouse / "ops" / "ingest_runs"
    if not (path / "_delta_log").exists():
        return []
    rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
    return sorted(rows, key=lambda r: (r.get("started_at") is None, r.get("started_at")))


def last_run(lakehouse: Path, source: str, obj: str) -> dict | None:
    runs = [r for r in ingest_runs(lakehouse) if r["source"] == source and r["object"] == obj]
    return runs[-1] if runs else None


def delta_rows(path: Path) -> int | None:
    from deltalake import DeltaTable

    if not (path / "_delta_log").exists():
        return None
    return DeltaTable(str(path)).count()


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
