"""What the numbers were measured on: CPU, memory, versions, and how loaded the machine was."""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata

import psutil


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _java() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        return (out.stderr or out.stdout).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def describe() -> dict:
    memory = psutil.virtual_memory()
    return {
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "cpu_model": _cpu_model(),
        "memory_bytes": memory.total,
        "memory_gib": round(memory.total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "java": _java(),
        "spark": _version("pyspark"),
        "delta_spark": _version("delta-spark"),
        "dlt": _version("dlt"),
        "dbt_core": _version("dbt-core"),
        "dbt_spark": _version("dbt-spark"),
        "deltalake": _version("deltalake"),
        "load_average_start": load_average(),
    }
