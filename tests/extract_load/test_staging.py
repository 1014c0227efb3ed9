"""Load files reach executors on other hosts through the lakehouse store, and are not left there."""
from __future__ import annotations

from pathlib import Path

import dlt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from extract_load.load.bronze import BronzeWriter
from extract_load.load.dlt_bridge import stage
from extract_load.load.runs import new_load_id
from extract_load.sources.base import BronzeTable
from extract_load.load.staging import STAGING_DIR, readable, stages_in_lakehouse


def _with(config, root=None, master=None, staging=None):
    lakehouse = config.lakehouse.model_copy(update={k: v for k, v in {"root": root, "staging": staging}.items() if v})
    spark = config.spark.model_copy(update={"master": master} if master else {})
    return config.model_copy(update={"lakehouse": lakehouse, "spark": spark})


@pytest.mark.parametrize("root, master, staging, expected", [
    ("data/lakehouse", "local[2]", "auto", False),
    ("s3a://bucket/lake", "local[2]", "auto", False),              # executors are the driver
    ("/shared/lake", "spark://10.0.0.5:7077", "auto", False),       # a mounted path: plain read
    ("s3a://bucket/lake", "spark://10.0.0.5:7077", "auto", True),
    ("abfss://c@acct.dfs.core.windows.net/lake", "yarn", "auto", True),
    ("file:/shared/lake", "yarn", "auto", False),
    ("s3a://bucket/lake", "yarn", "local", False),                  # work_dir on shared storage
    ("data/lakehouse", "local[2]", "lakehouse", True),
])
def test_staging_is_used_when_executors_may_be_on_other_hosts(base_config, root, master, staging, expected):
    assert stages_in_lakehouse(_with(base_config, root, master, staging)) is expected


def test_a_staged_file_is_read_from_the_store_and_deleted_after(spark, base_config, tmp_path):
    config = _with(base_config, staging="lakehouse")
    local = tmp_path / "batch.parquet"
    pq.write_table(pa.table({"id": list(range(20))}), local)
    with readable(spark, config, str(local), "load-1") as path:
        staged = Path(path.removeprefix("file:"))
        assert staged != local and staged.is_file()
        assert staged.parent == Path(config.lakehouse_root) / STAGING_DIR
        assert staged.name == "load-1-batch.parquet"
        assert spark.read.parquet(path).count() == 20
    assert not staged.exists()
    assert local.exists()  # dlt's own copy is dlt's to clean up


def test_land_through_staging_merges_every_row_and_leaves_no_staged_file(spark, base_config):
    config = _with(base_config, staging="lakehouse")

    @dlt.resource(name="gadgets")
    def gadgets():
        yield [{"gadget_id": i, "name": f"g{i}"} for i in range(30)]

    spec = {"gadgets": BronzeTable("gadgets", ("gadget_id",))}
    writer = BronzeWriter(spark, config, new_load_id())
    results = stage(spark, config, "unit_staging", gadgets(), "unit", spec, writer).load()
    assert results["gadgets"].inserted == 30
    assert spark.table("bronze.unit_gadgets").count() == 30
    staging = Path(config.lakehouse_root) / STAGING_DIR
    assert not [p for p in staging.rglob("*") if p.is_file()]
