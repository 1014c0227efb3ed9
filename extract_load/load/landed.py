"""What bronze already holds, read for a source during its extraction (the `Landed` interface).

A source never touches Spark: when it must know which rows are live in bronze (HubSpot's
association tombstones), the runner hands it this reader over one source's bronze tables.
"""
from __future__ import annotations

from typing import Collection, Sequence

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from extract_load.config import Config


class BronzeLanded:
    """Live (not tombstoned) rows of one source's bronze tables, selected by a column's values."""

    def __init__(self, spark: SparkSession, config: Config, source: str):
        self.spark, self.config, self.source = spark, config, source

    def live_rows(self, table: str, column: str, values: Collection[str], columns: Sequence[str]) -> list[dict]:
        name = self.config.bronze_table(self.source, table)
        if not values or not self.spark.catalog.tableExists(name):
            return []
        frame = self.spark.table(name)
        if "_is_deleted" in frame.columns:
            frame = frame.filter(~F.coalesce(F.col("_is_deleted"), F.lit(False)))
        # a semi join with the values as a small table: an IN list of thousands of literals
        # makes Spark's optimizer slow
        wanted = self.spark.createDataFrame([(str(v),) for v in sorted(values)], f"`{column}` string")
        selected = frame.join(wanted, column, "left_semi").select(*columns)
        return [row.asDict() for row in selected.collect()]
