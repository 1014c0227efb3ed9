"""Bench configs: config/default.yaml with every path moved under one run folder and the data
sources pointed at the bench stand-ins. Each measured run gets a folder of its own: a fresh
lakehouse, warehouse, embedded metastore (Derby admits one process) and dlt scratch dir."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

from extract_load.config import CONFIG_DIR
from extract_load.sources.registry import load_config

# The contacts properties the product's contract lists (sandbox/hubspot/README.md): an explicit
# list keeps one page of 100 records to one request (with "all", ~400 properties need batch reads).
CONTACT_PROPERTIES = [
    "email", "firstname", "lastname", "phone", "company", "lifecyclestage", "jobtitle", "city",
    "country", "hs_analytics_source", "utm_campaign", "associatedcompanyid", "createdate",
    "lastmodifieddate", "hs_lastmodifieddate", "hs_merged_object_ids",
]


def write_config(run_dir: Path, *, redshift=None, database: str | None = None, hubspot=None,
                 redshift_tables: list[str] | None = None, hubspot_objects: list[str] | None = None,
                 associations: bool = True) -> Path:
    """Write `<run_dir>/config.yaml`; returns its path (validated by the project's own loader).

    `redshift`/`hubspot` are the bench stand-ins (None leaves that source out); the table and
    object lists narrow the catalog's.
    """
    raw = yaml.safe_load((CONFIG_DIR / "default.yaml").read_text())
    raw = copy.deepcopy(raw)
    catalog = yaml.safe_load((CONFIG_DIR / "catalog.yaml").read_text())
    run_dir = run_dir.resolve()
    raw["environment"] = "bench"
    raw["work_dir"] = str(run_dir / "work")
    raw["lakehouse"] = {**(raw.get("lakehouse") or {}), "root": str(run_dir / "lakehouse")}
    spark = raw.setdefault("spark", {})
    spark["warehouse_dir"] = str(run_dir / "warehouse")
    spark["metastore"] = {"kind": "derby", "path": str(run_dir / "metastore")}
    raw["sandbox"] = {"enabled": False}  # the bench starts and seeds its own stand-ins
    sources = raw["data_sources"]
    if redshift is not None:
        rs = sources["redshift"]
        rs.update({"host": "127.0.0.1", "port": redshift.port, "database": database,
                   "username": redshift.info["user"], "password": redshift.info["password"],
                   "cluster_identifier": "bench", "region": "us-east-1"})
        if redshift_tables:
            rs["tables"] = [t for t in catalog["redshift"] if t["name"] in redshift_tables]
    else:
        sources.pop("redshift", None)
    if hubspot is not None:
        hs = sources["hubspot"]
        hs.update({"base_url": hubspot.url, "api_key": hubspot.token, "allow_http": True})
        hs["tables"] = [e for e in catalog["hubspot"] if not hubspot_objects or e["name"] in hubspot_objects]
        for endpoint in hs["tables"]:
            if endpoint["name"] == "contacts":
                endpoint["properties"] = list(CONTACT_PROPERTIES)
            if not associations:
                endpoint.pop("associations", None)
    else:
        sources.pop("hubspot", None)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "config.yaml"
    path.write_text("# written by `python -m bench`: config/default.yaml moved under this folder\n"
                    + yaml.safe_dump(raw, sort_keys=False))
    load_config(path=path)  # fail here, in one line, rather than inside a measured subprocess
    return path


def dbt_env(run_dir: Path) -> dict[str, str]:
    """dbt's target/ and logs/ under the run folder, not in the shared dbt_project/."""
    return {"DBT_TARGET_PATH": str(run_dir / "dbt-target"), "DBT_LOG_PATH": str(run_dir / "dbt-logs")}
