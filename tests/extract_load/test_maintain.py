"""Table maintenance: many small files in, a few files out, the same rows."""
from __future__ import annotations

from extract_load.maintain import maintain, zorder_columns


def _checksum(spark, name):
    row = spark.sql(f"SELECT count(*) AS n, bit_xor(xxhash64(id, v, updated_at)) AS h FROM {name}").first()
    return row.n, row.h


def test_maintain_compacts_twenty_small_loads_without_changing_content(spark, base_config):
    name = "bronze.redshift_maintenance_probe"
    spark.sql("CREATE DATABASE IF NOT EXISTS bronze")
    location = base_config.bronze_location("redshift", "maintenance_probe")
    for load in range(20):
        rows = [(f"id-{load}-{i}", load * 10 + i, f"2026-01-{load + 1:02d} 00:00:00") for i in range(5)]
        frame = spark.createDataFrame(rows, "id string, v int, updated_at string").selectExpr(
            "id", "v", "cast(updated_at as timestamp) as updated_at").coalesce(1)
        frame.write.format("delta").mode("append").option("path", location).saveAsTable(name)
    before_files = spark.sql(f"DESCRIBE DETAIL {name}").first().numFiles
    before = _checksum(spark, name)
    assert before_files >= 20

    [result] = maintain(spark, base_config, [name], retain_hours=168)

    assert result.files_before == before_files
    assert result.files_after <= 2
    assert spark.sql(f"DESCRIBE DETAIL {name}").first().numFiles == result.files_after
    assert _checksum(spark, name) == before


def test_redshift_tables_zorder_by_their_cursor(base_config):
    assert zorder_columns(base_config, "bronze.redshift_marketing_campaigns") == ("updated_at",)
    assert zorder_columns(base_config, "bronze.hubspot_contacts") == ()
