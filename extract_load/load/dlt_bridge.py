"""dlt does extraction and normalisation; its custom destination hands each parquet load file
to Spark, which MERGEs it into bronze.

The dlt pipeline's local folder is scratch: its state and inferred schema are dropped before each
run, because the cursor lives in the lakehouse (`load.state`) and the bronze table's own schema is
what a new batch is checked against (dlt would otherwise turn a type change into a silent
`__v_text` variant column).
"""
from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from extract_load.config import Config
from extract_load.errors import LoadError, PipelineError
from extract_load.load.bronze import BronzeWriter, MergeResult
from extract_load.load.staging import readable
from extract_load.sources.base import BronzeTable

log = logging.getLogger(__name__)


class Staged:
    """A batch dlt has extracted and normalised into load files, not yet in bronze.

    Staging apart from loading lets a caller extract the next batch while this one is MERGEd
    (`load()` may run in another thread; dlt keeps its contexts per thread). Each staged batch
    needs a pipeline name of its own while another one is in flight.
    """

    def __init__(self, pipeline, results: dict[str, MergeResult]):
        self.pipeline = pipeline
        self.results = results

    def load(self) -> dict[str, MergeResult]:
        """MERGE the load files into bronze; returns merge counts per dlt table (PipelineError on failure)."""
        from dlt.pipeline.exceptions import PipelineStepFailed

        try:
            self.pipeline.activate()  # dlt's active pipeline is per thread
            self.pipeline.load()
        except PipelineStepFailed as exc:
            raise _unwrap(exc) from None
        return self.results


def stage(spark: SparkSession, config: Config, pipeline_name: str, data: Any, source: str,
          specs: dict[str, BronzeTable], writer: BronzeWriter, accept_type_change: frozenset[str] = frozenset()) -> Staged:
    """Extract and normalise `data` (a dlt source or resources) with dlt into load files; the
    returned batch's `load()` MERGEs each of `source`'s tables (`specs`: dlt table name -> how it
    lands) into bronze. Raises the first PipelineError met (a refused request, a bad value),
    unwrapped from dlt."""
    import dlt
    from dlt.pipeline.exceptions import PipelineStepFailed

    results: dict[str, MergeResult] = {}

    def to_bronze(items: str, table: dict) -> None:
        name = table["name"]
        spec = specs.get(name)
        if spec is None:
            raise LoadError(f"dlt produced table {name!r}, which no bronze spec describes")
        with readable(spark, config, items, writer.load_id) as path:
            merged = writer.merge(source, spec, spark.read.parquet(path), accept_type_change)
        results.setdefault(name, MergeResult(table=merged.table)).add(merged)
        log.info("%s: merged file (%d in, %d inserted, %d updated, %d rejected)", merged.table,
                 merged.rows_in, merged.inserted, merged.updated, merged.rejected)

    destination = dlt.destination(to_bronze, batch_size=0, loader_file_format="parquet", name="bronze",
                                  naming_convention="direct", max_table_nesting=0, max_parallel_load_jobs=1)
    pipelines_dir = Path(config.work_path) / "dlt"
    shutil.rmtree(pipelines_dir / pipeline_name, ignore_errors=True)
    pipeline = dlt.pipeline(pipeline_name=pipeline_name, pipelines_dir=str(pipelines_dir), destination=destination)
    try:
        pipeline.extract(data, loader_file_format="parquet")
        pipeline.normalize()
    except PipelineStepFailed as exc:
        raise _unwrap(exc) from None
    return Staged(pipeline, results)


def _unwrap(exc: BaseException) -> BaseException:
    """The project's own error inside dlt's wrappers, else a one-line LoadError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PipelineError):
            return current
        for attr in ("exception", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException) and id(inner) not in seen:
                current = inner
                break
        else:
            current = None
    innermost = exc
    for attr in ("exception", "__cause__", "__context__"):
        while isinstance(getattr(innermost, attr, None), BaseException) and getattr(innermost, attr) is not innermost:
            innermost = getattr(innermost, attr)
    cause = str(innermost).strip().splitlines()[0] if str(innermost).strip() else ""
    cause = f"{type(innermost).__name__}: {cause}" if cause else type(innermost).__name__
    return LoadError(f"dlt {getattr(exc, 'step', 'pipeline')} step failed: {cause}")


def spark_schema(columns: dict[str, dict]):
    """The Spark schema bronze gets from dlt column hints (to create a table no row has reached)."""
    from pyspark.sql import types as T

    mapping = {"text": T.StringType(), "double": T.DoubleType(), "timestamp": T.TimestampType(),
               "date": T.DateType(), "bool": T.BooleanType()}
    fields = []
    for name, hint in columns.items():
        if hint["data_type"] == "bigint":
            data_type = T.IntegerType() if hint.get("precision") == 32 else T.LongType()
        elif hint["data_type"] == "decimal":
            data_type = T.DecimalType(hint.get("precision", 38), hint.get("scale", 9))
        else:
            data_type = mapping[hint["data_type"]]
        fields.append(T.StructField(name, data_type, True))
    return T.StructType(fields)
