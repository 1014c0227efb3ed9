"""Right to erasure and retention: delete people and old rows from every layer, then VACUUM.

`forget` finds a person by email, HubSpot contact id or Amplitude user id, resolves the other
identifiers bronze links to them (a contact's emails and ids), and deletes every row that names
them in bronze, silver, gold and stored test failures. Without deletion vectors a Delta DELETE
rewrites the files that held the rows, so the live files no longer hold them; a table that
supports deletion vectors only hides the rows, so its files are then rewritten with
`REORG ... APPLY (PURGE)`. VACUUM removes the old files once the retention period allows. Each
erasure is recorded in `ops.erasures` with a keyed hash of the request, never the personal data.

An erased person stays erased across incremental loads (they read only changed records); a full
refresh, or a later change to the person's record in the source, brings them back while the
source still holds them: erase at the source too.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pyspark.sql import SparkSession

from extract_load.config import Config
from extract_load.errors import ConfigError, PipelineError
from extract_load import ops
from extract_load.maintain import stored_tables, table_detail, vacuum_settings

log = logging.getLogger(__name__)
LAYERS = ("silver", "gold", "dq_failures")


@dataclass
class Person:
    emails: set[str] = field(default_factory=set)
    contact_ids: set[str] = field(default_factory=set)
    user_ids: set[str] = field(default_factory=set)


def _quoted(values: set[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in sorted(values))


def _hash(config: Config, value: str) -> str:
    """The same keyed hash gold uses (`pii_hash` macro): sha2(key || value, 256)."""
    return hashlib.sha256((config.privacy.pii_hash_key.get_secret_value() + value).encode()).hexdigest()


def person_columns(config: Config) -> dict[str, dict[str, str]]:
    """Bronze table -> {column: identifier kind}, as each source declares its personal data."""
    from extract_load.sources import registry

    found: dict[str, dict[str, str]] = {}
    for source, table in config.source_tables():
        info = registry.get(source).table_info(registry.settings(config, source), table)
        for name, columns in info.person_columns.items():
            found.setdefault(config.bronze_table(source, name), {}).update(columns)
    return found


def resolve_person(spark: SparkSession, config: Config, email: str | None, contact_id: str | None,
                   user_id: str | None) -> Person:
    """Every identifier bronze links to the request (a contact's other emails and ids), through
    the tables that hold both an email and a contact id."""
    person = Person()
    if email:
        person.emails.add(email.strip().lower())
    if contact_id:
        person.contact_ids.add(contact_id.strip())
    if user_id:
        person.user_ids.add(user_id.strip())
    for table, columns in person_columns(config).items():
        kinds = {kind: column for column, kind in columns.items()}
        if not {"email", "contact_id"} <= set(kinds) or not spark.catalog.tableExists(table):
            continue
        if not (person.emails or person.contact_ids):
            continue
        email_col, id_col = kinds["email"], kinds["contact_id"]
        clauses = []
        if person.emails:
            clauses.append(f"lower(trim(`{email_col}`)) IN ({_quoted(person.emails)})")
        if person.contact_ids:
            clauses.append(f"`{id_col}` IN ({_quoted(person.contact_ids)})")
        rows = spark.sql(f"SELECT `{id_col}` AS id, `{email_col}` AS email FROM {table} "
                         f"WHERE {' OR '.join(clauses)}").collect()
        for row in rows:
            person.contact_ids.add(row.id)
            if row.email and row.email.strip():
                person.emails.add(row.email.strip().lower())
    return person


# Columns that name a person in every layer, by the project's naming conventions (silver, gold and
# stored test failures use them; sources declare their bronze columns in `TableInfo`).
_CONVENTIONS = {"email": "email", "contact_id": "contact_id", "user_id": "user_id"}
_HASHED = {"email_hash": "email", "user_key": "user_id"}


def _predicates(config: Config, table: str, columns: set[str], person: Person,
                declared: dict[str, dict[str, str]]) -> list[str]:
    """Which of the table's columns name the person: the source's declaration, else conventions."""
    values = {"email": person.emails, "contact_id": person.contact_ids, "user_id": person.user_ids}
    named = {c: k for c, k in _CONVENTIONS.items() if c in columns}
    named.update({c: k for c, k in declared.get(table, {}).items() if c in columns})
    preds = []
    for column, kind in sorted(named.items()):
        if values[kind]:
            wanted = _quoted(values[kind])
            preds.append(f"lower(trim(`{column}`)) IN ({wanted})" if kind == "email" else f"`{column}` IN ({wanted})")
    for column, kind in sorted(_HASHED.items()):
        if column in columns and values[kind]:
            preds.append(f"`{column}` IN ({_quoted({_hash(config, v) for v in values[kind]})})")
    return preds


def _candidate_tables(spark: SparkSession, config: Config) -> list[str]:
    """Tables of bronze, silver, gold and stored failures, from the catalog alone (no Delta log read)."""
    return stored_tables(spark, [config.lakehouse.bronze_schema, *LAYERS])


def _delta_detail(spark: SparkSession, table: str) -> dict | None:
    """DESCRIBE DETAIL of a Delta table, None for any other format."""
    detail = table_detail(spark, table)
    return detail if detail.get("format") == "delta" else None


def _may_hold_deletion_vectors(detail: dict) -> bool:
    """Deleted rows can only be hidden (not rewritten away) in a table whose protocol has deletion vectors."""
    features = {f.lower() for f in (detail.get("tableFeatures") or [])}
    enabled = (detail.get("properties") or {}).get("delta.enableDeletionVectors", "false").lower() == "true"
    return "deletionvectors" in features or enabled


def forget(spark: SparkSession, config: Config, email: str | None = None, contact_id: str | None = None,
           user_id: str | None = None, vacuum_hours: int | None = None) -> dict[str, int]:
    """Delete a person everywhere; returns rows deleted per table.

    One DELETE per table with a column naming the person (its result is the count: no separate
    scan); REORG only where deletion vectors can hide rows; VACUUM only the tables it changed.
    Tables are erased a few at a time: each step is a small Spark job whose fixed costs (Delta
    log, commit, listing) overlap. Raises ConfigError without an identifier; PipelineError (after
    erasing everything else) when a table naming people is not a Delta table.
    """
    if not (email or contact_id or user_id):
        raise ConfigError("forget: give --email, --contact-id or --user-id")
    person = resolve_person(spark, config, email, contact_id, user_id)
    retain = config.maintenance.retain_hours if vacuum_hours is None else vacuum_hours
    tables = _candidate_tables(spark, config)
    declared = person_columns(config)
    with vacuum_settings(spark, retain), ThreadPoolExecutor(max_workers=_ERASE_WORKERS) as pool:
        outcomes = list(pool.map(lambda table: _erase(spark, config, table, person, retain, declared), tables))
    deleted = {table: count for table, count in zip(tables, outcomes) if count}
    _record(spark, config, email, contact_id, user_id, deleted, retain)
    not_delta = [table for table, count in zip(tables, outcomes) if count is None]
    if not_delta:
        raise PipelineError(f"forget: not Delta tables, so not erased: {', '.join(not_delta)}")
    return deleted


_ERASE_WORKERS = 4


def _erase(spark: SparkSession, config: Config, table: str, person: Person, retain: int,
           declared: dict[str, dict[str, str]]) -> int | None:
    """Rows of `table` naming the person deleted, purged and vacuumed; None when it is not a Delta table."""
    preds = _predicates(config, table, {f.name for f in spark.table(table).schema.fields}, person, declared)
    if not preds:
        return 0
    detail = _delta_detail(spark, table)
    if detail is None:
        return None
    condition = " OR ".join(f"({p})" for p in preds)
    count = int(spark.sql(f"DELETE FROM {table} WHERE {condition}").first()[0] or 0)
    if count:
        if _may_hold_deletion_vectors(detail):
            spark.sql(f"REORG TABLE {table} APPLY (PURGE)")
        spark.sql(f"VACUUM {table} RETAIN {int(retain)} HOURS")  # settings: vacuum_settings, set by the caller
        log.info("%s: erased %d row(s)", table, count)
    return count


def _vacuum(spark: SparkSession, table: str, hours: int) -> None:
    with vacuum_settings(spark, hours):
        spark.sql(f"VACUUM {table} RETAIN {int(hours)} HOURS")


def _record(spark, config, email, contact_id, user_id, deleted, retain) -> None:
    kinds = ",".join(k for k, v in (("email", email), ("contact_id", contact_id), ("user_id", user_id)) if v)
    request = "|".join(v.strip().lower() for v in (email, contact_id, user_id) if v)
    key = config.privacy.pii_hash_key.get_secret_value().encode()
    row = (str(uuid.uuid4()), datetime.now(timezone.utc).replace(tzinfo=None), kinds,
           hmac.new(key, request.encode(), hashlib.sha256).hexdigest(), ",".join(sorted(deleted)),
           sum(deleted.values()), int(retain))
    ops.append(spark, config, ops.ERASURES, [row])


# Silver renames the Redshift cursors it keeps (dbt_project/models/staging/redshift/).
_SILVER_TIME = {"event_timestamp": ("event_at",), "date": ("report_date", "campaign_date")}


def apply_retention(spark: SparkSession, config: Config, now: datetime | None = None) -> dict[str, int]:
    """Delete rows older than each table's `retention_days` (by its cursor) in bronze and silver, then VACUUM.

    Incremental silver models keep what they merged, so their rows expire here too (by the
    cursor's silver name); table-materialized models drop the rows at their next build.
    """
    from extract_load.sources import registry

    now = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    deleted: dict[str, int] = {}
    targets: list[tuple[str, tuple[str, ...], int]] = []
    for source, name in config.source_tables():
        days = config.catalog_entry(source, name).retention_days
        info = registry.get(source).table_info(registry.settings(config, source), name)
        if not days or not info.time_column:
            continue
        targets.append((config.bronze_table(source, name), (info.time_column,), days))
        targets.append((f"silver.stg_{source}__{name}", (info.time_column, *_SILVER_TIME.get(info.time_column, ())),
                        days))
    for table, candidates, days in targets:
        if not spark.catalog.tableExists(table):
            continue
        present = {f.name for f in spark.table(table).schema.fields}
        column = next((c for c in candidates if c in present), None)
        if column is None:
            log.warning("%s: no column %s; retention not applied", table, " or ".join(candidates))
            continue
        cutoff = (now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        condition = f"`{column}` < timestamp'{cutoff}'"
        count = int(spark.sql(f"DELETE FROM {table} WHERE {condition}").first()[0] or 0)
        if count:
            _vacuum(spark, table, config.maintenance.retain_hours)
        deleted[table] = count
        log.info("%s: %d row(s) older than %d days removed", table, count, days)
    return deleted
