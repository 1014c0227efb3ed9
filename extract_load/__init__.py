"""ELT from Amazon Redshift and HubSpot CRM into a Delta Lake lakehouse.

The names the seed guide's users know are importable from here; they load lazily so that
`import extract_load` stays cheap.
"""
import os

# dlt settings that hold for every use of the package, set before dlt reads its configuration:
# no telemetry (no network beyond the sources), and no secrets lookup in Airflow's metadata
# database (with Airflow installed, dlt would query it and rewire logging; our secrets come
# from the config file).
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")

from extract_load.config import Config  # noqa: E402

_LAZY = {
    "load_config": "extract_load.sources.registry",
    "build_spark": "extract_load.spark",
    "extract_redshift_data": "extract_load.ingest",
    "extract_hubspot_data": "extract_load.ingest",
    "run_ingest": "extract_load.ingest",
    "HubSpotAPI": "extract_load.sources.hubspot",
}

__all__ = ["Config", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'extract_load' has no attribute {name!r}")
