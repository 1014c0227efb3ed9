"""The peer: dlt's own `sql_table` source (pyarrow backend) into dlt's filesystem destination as
a Delta table, the way dlt's documentation sets up a SQL-database-to-lakehouse load.

Run as its own process by the bench (`python -m bench.peer --dsn ... --out DIR`), so its peak
RSS is measured like ours. Prints one JSON line: rows loaded and the time dlt's steps took.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peer")
    parser.add_argument("--dsn", required=True, help="SQLAlchemy URL of the source database")
    parser.add_argument("--table", default="customer_behavior")
    parser.add_argument("--schema", default="public")
    parser.add_argument("--out", required=True, help="folder: the Delta table and dlt's pipeline dir go under it")
    parser.add_argument("--chunk-size", type=int, default=50_000, help="rows per Arrow batch (ours: chunk_rows)")
    parser.add_argument("--write-disposition", default="merge", choices=["append", "merge", "replace"])
    parser.add_argument("--primary-key", default="event_id")
    args = parser.parse_args(argv)

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import dlt
    from dlt.sources.sql_database import sql_table

    out = os.path.abspath(args.out)
    started = time.monotonic()
    resource = sql_table(credentials=args.dsn, table=args.table, schema=args.schema, backend="pyarrow",
                         chunk_size=args.chunk_size, reflection_level="full_with_precision")
    hints = {"write_disposition": args.write_disposition, "table_format": "delta"}
    if args.write_disposition == "merge":
        hints["write_disposition"] = {"disposition": "merge", "strategy": "upsert"}
        hints["primary_key"] = args.primary_key
    resource.apply_hints(**hints)
    pipeline = dlt.pipeline(pipeline_name="bench_peer", pipelines_dir=os.path.join(out, "dlt"),
                            destination=dlt.destinations.filesystem(bucket_url="file://" + os.path.join(out, "lake")),
                            dataset_name="bronze")
    steps = {}
    t = time.monotonic()
    pipeline.extract(resource, loader_file_format="parquet")
    steps["extract_s"] = time.monotonic() - t
    t = time.monotonic()
    normalized = pipeline.normalize()
    steps["normalize_s"] = time.monotonic() - t
    t = time.monotonic()
    pipeline.load()
    steps["load_s"] = time.monotonic() - t
    rows = sum(normalized.row_counts.get(name, 0) for name in normalized.row_counts if not name.startswith("_dlt"))
    from deltalake import DeltaTable

    delta_rows = DeltaTable(os.path.join(out, "lake", "bronze", args.table)).count()
    print(json.dumps({"rows": rows, "delta_rows": delta_rows, "duration_s": time.monotonic() - started,
                      "write_disposition": args.write_disposition, "chunk_size": args.chunk_size,
                      **{k: round(v, 3) for k, v in steps.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
