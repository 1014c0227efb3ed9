"""The architecture's rules hold: import-linter's contracts (pyproject.toml) are kept, they catch a
violation, and the production wheel ships no stand-in."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from extract_load.config import PROJECT_ROOT

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)})


def test_import_contracts_are_kept():
    result = _lint(PROJECT_ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _copy_project(target: Path) -> None:
    for package in ("extract_load", "sandbox", "orchestration"):
        shutil.copytree(PROJECT_ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, target / name)


def test_a_source_importing_spark_breaks_a_contract(tmp_path):
    _copy_project(tmp_path)
    base = tmp_path / "extract_load" / "sources" / "base.py"
    base.write_text(base.read_text() + "\nfrom pyspark.sql import SparkSession  # noqa\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "Sources only produce: no landing code, no Spark, no Delta BROKEN" in result.stdout


def test_the_production_wheel_ships_no_sandbox(tmp_path):
    _copy_project(tmp_path / "src")  # a copy: the build leaves its build/ folder where it runs
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(tmp_path / "src")], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next(tmp_path.glob("extract_load-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("extract_load/sources/base.py") for n in names)
    assert not [n for n in names if n.startswith("sandbox/")]
    assert not [n for n in names if n.startswith("tests/")]
