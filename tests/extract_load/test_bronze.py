"""Bronze landing: the Spark session with Delta, MERGE semantics, rejects, dlt hand-over."""
from __future__ import annotations

from decimal import Decimal

import dlt
import pytest

from extract_load.errors import LoadError
from extract_load.load.bronze import BronzeWriter, SchemaChange
from extract_load.load.dlt_bridge import stage
from extract_load.load.runs import new_load_id
from extract_load.load.state import StateStore
from extract_load.sources.base import BronzeTable

SCHEMA = "id string, v int, amount decimal(12,2), updated_at timestamp"


def test_session_writes_merges_and_reads_a_delta_table(spark, tmp_path):
    path = str(tmp_path / "plain")
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, v string").write.format("delta").save(path)
    from delta.tables import DeltaTable

    (DeltaTable.forPath(spark, path).alias("t")
     .merge(spark.createDataFrame([(2, "B"), (3, "c")], "id int, v string").alias("s"), "t.id = s.id")
     .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
    rows = spark.read.format("delta").load(path).orderBy("id").collect()
    assert [(r.id, r.v) for r in rows] == [(1, "a"), (2, "B"), (3, "c")]
    assert spark.conf.get("spark.sql.extensions") == "io.delta.sql.DeltaSparkSessionExtension"


def _batch(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def test_merge_rejects_null_keys_collapses_duplicates_and_is_idempotent(spark, base_config):
    spec = BronzeTable("things", ("id",), version_column="updated_at")
    import datetime as dt

    t0, t1 = dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2)
    rows = [("a", 1, Decimal("1.10"), t0), ("a", 1, Decimal("1.10"), t0), (None, 2, Decimal("2.00"), t0),
            ("b", 3, Decimal("-3.00"), t0), ("b", 4, Decimal("4.00"), t1)]
    first = BronzeWriter(spark, base_config, new_load_id()).merge("unit", spec, _batch(spark, rows))
    assert (first.rows_in, first.rejected, first.inserted) == (4, 1, 2)
    assert first.duplicates == 2  # one exact copy of "a", one older version of "b"
    again = BronzeWriter(spark, base_config, new_load_id()).merge("unit", spec, _batch(spark, rows))
    assert again.inserted == 0
    table = spark.table("bronze.unit_things").orderBy("id").collect()
    assert [(r.id, r.v, r.amount) for r in table] == [("a", 1, Decimal("1.10")), ("b", 4, Decimal("4.00"))]
    assert spark.table("bronze.unit_things__rejects").filter("_reject_reason = 'null primary key: id'").count() == 2
    stale = BronzeWriter(spark, base_config, new_load_id()).merge("unit", spec, _batch(spark, [("b", 99, Decimal("0"), t0)]))
    assert stale.updated == 0, "an older version never overwrites a newer one"


def test_new_column_is_added_and_lossy_type_change_is_refused(spark, base_config):
    spec = BronzeTable("evolving", ("id",))
    writer = BronzeWriter(spark, base_config, new_load_id())
    writer.merge("unit", spec, spark.createDataFrame([("a", 1)], "id string, n int"))
    added = writer.merge("unit", spec, spark.createDataFrame([("b", 2, "x")], "id string, n bigint, extra string"))
    assert added.added_columns == ["extra"]
    rows = {r.id: r for r in spark.table("bronze.unit_evolving").collect()}
    assert rows["a"].extra is None and rows["b"].extra == "x"
    # the runner records these in ops.schema_changes
    assert added.schema_changes == [SchemaChange("n", "widened", "bigint"), SchemaChange("extra", "added", "string")]
    with pytest.raises(LoadError, match=r"^bronze.unit_evolving: column n changed type from bigint to string"):
        writer.merge("unit", spec, spark.createDataFrame([("c", "three")], "id string, n string"))
    assert spark.table("bronze.unit_evolving").count() == 2


def test_dlt_pipeline_lands_parquet_files_through_spark(spark, base_config):
    @dlt.resource(name="widgets", columns={"price": {"data_type": "decimal", "precision": 10, "scale": 2}})
    def widgets():
        yield [{"widget_id": i, "name": f"wídget {i}", "price": Decimal(f"{i}.25")} for i in range(50)]

    spec = {"widgets": BronzeTable("widgets", ("widget_id",))}
    writer = BronzeWriter(spark, base_config, new_load_id())
    results = stage(spark, base_config, "unit_test", widgets(), "unit", spec, writer).load()
    assert results["widgets"].inserted == 50
    frame = spark.table("bronze.unit_widgets")
    assert dict(frame.dtypes)["price"] == "decimal(10,2)"
    assert frame.filter("widget_id = 7").first().name == "wídget 7"


def test_state_store_roundtrip(spark, base_config):
    store = StateStore(spark, base_config)
    assert store.get("unit", "obj") is None
    store.put("unit", "obj", "2026-01-01T00:00:00", "load-1", mode="full")
    store.put("unit", "obj", "2026-01-02T00:00:00", "load-2", mode="incremental")
    state = store.get("unit", "obj")
    assert state["cursor"] == "2026-01-02T00:00:00" and state["mode"] == "incremental"
