"""Constants of the Redshift source: names, type mapping, defaults. No logic here."""
from __future__ import annotations

SOURCE = "redshift"
PIPELINE_PREFIX = "redshift"  # dlt pipeline folder per table: redshift_<table> (scratch, rebuilt each run)
CONNECTION_OK = "Redshift connection successful"
# redshift_connector has one socket timeout for the connect and every query on the connection: it
# must outlast the slowest chunk query on a busy cluster, or a slow chunk kills the connection.
CONNECT_TIMEOUT_S = 600

# information_schema.columns.data_type -> dlt data type. Anything else lands as text.
DLT_TYPES = {
    "smallint": "bigint",
    "integer": "bigint",
    "bigint": "bigint",
    "numeric": "decimal",
    "decimal": "decimal",
    "real": "double",
    "double precision": "double",
    "boolean": "bool",
    "date": "date",
    "timestamp without time zone": "timestamp",
    "timestamp with time zone": "timestamp",
    "character varying": "text",
    "character": "text",
    "text": "text",
}
# dlt "bigint" with a precision in bits keeps integer widths (int16/int32/int64) in parquet
INT_BITS = {"smallint": 16, "integer": 32, "bigint": 64}
TEMPORAL_TYPES = ("date", "timestamp without time zone", "timestamp with time zone")
# A numeric column without declared precision (PostgreSQL only; Redshift always has one)
UNBOUNDED_NUMERIC = (38, 9)

# Packed rows (helpers.pack_columns): the alias of the one text column, Redshift's VARCHAR limit
# it must fit in, and the timestamp layout Arrow's CSV reader parses (microseconds, no zone)
PACKED_ALIAS = "_packed"
PACKED_MAX_BYTES = 65535
PACKED_TIMESTAMP = "YYYY-MM-DD HH24:MI:SS.US"

# UNLOAD (large backfills): the keys read from data_sources.redshift.unload
UNLOAD_KEYS = ("s3_prefix", "iam_role")
UNLOAD_MAX_FILE_SIZE_MB = 256
# Chunks read ahead in a thread while the current group merges (helpers.Prefetch): one keeps the
# driver's Python decoding busy during Spark's work and adds one chunk to peak memory.
PREFETCH_CHUNKS = 1
