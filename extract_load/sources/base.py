"""What a source is to the rest of the pipeline: the protocol it implements and what it produces.

A source only produces. For each table it yields `Segment`s: dlt data (resources, or Parquet
files a warehouse exported) with how each of its tables lands in bronze, and the checkpoint to
save once that data is committed. The runner (`extract_load.load.runner`) lands every source the
same way: MERGE into bronze, then the checkpoint, then the metrics. What a source needs to know
about what is already landed comes through the `Landed` interface the runner hands it.

Nothing here imports Spark, Delta or the loading code: a source can be built, run and tested
without them (import-linter contracts in pyproject.toml).
"""
from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterator, Literal, Protocol, Sequence, runtime_checkable

from pydantic import BaseModel

log = logging.getLogger("extract_load.progress")

PersonIdentifier = Literal["email", "contact_id", "user_id"]


@dataclass(frozen=True)
class BronzeTable:
    """How one table a source produces lands: its name (bronze.<source>_<name>), key and ordering.

    `columns` (dlt column hints) lets the runner create the table empty when a run had no rows
    for it, so downstream models find every table the source declares."""

    name: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...] = ()
    version_column: str | None = None  # newer wins on conflicting versions of a key
    columns: dict[str, dict] | None = None


@dataclass(frozen=True)
class ParquetFiles:
    """Data a source had its system export as Parquet (e.g. Redshift UNLOAD): the runner's Spark
    reads `uri` directly; the files carry every column bronze gets."""

    uri: str


@dataclass(frozen=True)
class Checkpoint:
    """What the runner saves after the segment's data is committed: the table's cursor (the
    high-water mark up to which everything is in bronze) and details beside it (a resume
    position, counts). A later run gets both back as its `stored` state."""

    cursor: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Segment:
    """One commit's worth of a table's run.

    `data` is a dlt source or resource(s), a `ParquetFiles`, or None (nothing to land, only a
    checkpoint to save). `tables` maps every table the data may produce to how it lands.
    `checkpoint` is called once the data has been consumed (staged), so a source may decide it
    from what it read; None means nothing to save for this segment."""

    data: Any
    tables: dict[str, BronzeTable]
    checkpoint: Callable[[], Checkpoint | None] = lambda: None


@dataclass
class ExtractStats:
    """What a source reports about one table's run while it extracts (the runner's run metrics
    extend it with what landing adds)."""

    source: str
    object: str
    load_id: str = ""  # the run's id (a source may name exported files after it)
    mode: str = ""  # full | incremental
    rows_extracted: int = 0
    chunks: int = 0
    bytes: int = 0
    requests: int = 0
    responses_429: int = 0
    wait_seconds: float = 0.0
    cursor_before: str | None = None
    _clock: float = field(default_factory=time.monotonic, repr=False)

    def progress(self, message: str, *args) -> None:
        log.info(f"{self.source}.{self.object}: " + message, *args)


class Landed(Protocol):
    """Read access to what bronze already holds for this source, injected by the runner."""

    def live_rows(self, table: str, column: str, values: Collection[str], columns: Sequence[str]) -> list[dict]:
        """Rows of the source's bronze `table` that are not tombstoned (`_is_deleted`) and whose
        `column` is one of `values`, projected to `columns`; [] when the table does not exist."""


@dataclass(frozen=True)
class TableInfo:
    """What the operations commands need to know about one landed table."""

    time_column: str | None = None  # what retention expires rows by
    zorder_by: tuple[str, ...] = ()  # the column(s) queries filter by, for OPTIMIZE
    # bronze table (this source's name, e.g. "contacts_to_companies") -> {column: identifier kind}
    person_columns: dict[str, dict[str, PersonIdentifier]] = field(default_factory=dict)


class Extractor(AbstractContextManager, Protocol):
    """One run's connection to a source system (opened lazily, closed by the runner)."""

    # True when the runner may stage the next segment while the previous one commits: the
    # source's reads do not depend on that commit (see `Landed`).
    overlap_commits: bool

    def extract(self, table: str, stored: dict | None, stats: ExtractStats, full_refresh: bool) -> Iterator[Segment]:
        """The table's segments, in commit order. `stored` is the state saved by the last
        checkpoint ({"cursor": ..., **details}), None before the first load or with
        `full_refresh`. Raises PipelineError (SourceError, ConfigError) naming the problem."""

    def close(self) -> None:
        ...


@runtime_checkable
class Source(Protocol):
    """A source system: registered once (`extract_load.sources.registry`), configured in
    `data_sources.<name>` with its tables in the catalog."""

    name: str
    # validates data_sources.<name> with its catalog entries under `tables`
    config_model: type[BaseModel]

    def check(self, settings: BaseModel) -> str:
        """A one-line success message, or SourceError naming what is wrong."""

    def extractor(self, settings: BaseModel, landed: Landed) -> Extractor:
        """A context manager that extracts this source's tables."""

    def table_info(self, settings: BaseModel, table: str) -> TableInfo:
        """Retention column, Z-order columns and personal-data columns of a catalogued table."""

