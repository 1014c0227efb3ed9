"""Where Spark's executors read a batch's load files from.

dlt writes its load files to the driver's disk. Executors of local Spark, or of a cluster on the
same host, read them there; executors on other hosts cannot, so for them each file is copied to
the lakehouse's own store (`<root>/_staging/<load id>-<file>`) through Hadoop's FileSystem (the same
connector and credentials as the tables) and deleted once it is merged.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pyspark.sql import SparkSession

from extract_load.config import Config

log = logging.getLogger(__name__)

STAGING_DIR = "_staging"


def stages_in_lakehouse(config: Config) -> bool:
    """True when executors must read load files from the lakehouse store, not the driver's disk."""
    mode = config.lakehouse.staging
    if mode != "auto":
        return mode == "lakehouse"
    remote_store = "://" in config.lakehouse_root and not config.lakehouse_root.startswith("file:")
    return remote_store and not config.spark.master.startswith("local")


@contextmanager
def readable(spark: SparkSession, config: Config, local_file: str, load_id: str) -> Iterator[str]:
    """A path every executor can read `local_file` from, valid inside the `with` block."""
    if not stages_in_lakehouse(config):
        yield local_file
        return
    hadoop = spark._jvm.org.apache.hadoop.fs
    conf = spark._jsc.hadoopConfiguration()
    source = hadoop.Path(Path(local_file).resolve().as_uri())
    # flat names: on S3, deleting a file re-creates its folder's marker, so per-load folders would
    # each leave an empty marker behind
    target = hadoop.Path(f"{config.lakehouse_root.rstrip('/')}/{STAGING_DIR}/{load_id}-{Path(local_file).name}")
    fs = target.getFileSystem(conf)
    # A plain stream copy, the way Spark's own writers upload: S3A's copyFromLocalFile hands the
    # upload to its transfer manager, which was seen to hang on an S3-compatible server.
    hadoop.FileUtil.copy(source.getFileSystem(conf), source, fs, target, False, True, conf)
    try:
        yield target.toString()
    finally:
        if not fs.delete(target, False):
            log.warning("staged load file %s was not deleted", target.toString())
