"""Right to erasure and retention: delete people and old rows from every layer, then VACUUM.

`forget` finds a person by email, HubSpot contact id or Amplitude user id, resolves the other
identifiers bronze links to them (a contact's emails and ids), and deletes every row that names
them in bronze, silver, gold and stored test failures. Deleted rows are purged from the live
files (`REORG ... APPLY (PURGE)` rewrites files that only hide rows), and VACUUM removes the old
files once the retention period allows. Each erasure is recorded in `ops.erasures` with a keyed
hash of the request, never the personal data itself.

An erased person stays erased across incremental loads (they read only changed records); a full
refresh, or a later change to the person's record in the source, brings them back while the
source still holds them: erase at the source too.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from extract_load.config import Config
from extract_load.errors import ConfigError

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


def resolve_person(spark: SparkSession, config: Config, email: str | None, contact_id: str | None,
                   user_id: str | None) -> Person:
    """Every identifier bronze links to the request (a contact's other emails and ids)."""
    person = Person()
    if email:
        person.emails.add(email.strip().lower())
    if contact_id:
        person.contact_ids.add(contact_id.strip())
    if user_id:
        person.user_ids.add(user_id.strip())
    contacts = config.bronze_table("hubspot", "contacts")
    if spark.catalog.tableExists(contacts) and (person.emails or person.contact_ids):
        clauses = []
        if person.emails:
            clauses.append(f"lower(trim(email)) IN ({_quoted(person.emails)})")
        if person.contact_ids:
            clauses.append(f"id IN ({_quoted(person.contact_ids)})")
        for row in spark.sql(f"SELECT id, email FROM {contacts} WHERE {' OR '.join(clauses)}").collect():
            person.contact_ids.add(row.id)
            if row.email and row.email.strip():
                person.emails.add(row.email.strip().lower())
    return person


def _predicates(config: Config, table: str, columns: set[str], person: Person) -> list[str]:
    """Which of the table's columns name the person, by the project's column conventions."""
    short = table.split(".", 1)[1]
    preds = []
    if person.emails:
        if "email" in columns:
            preds.append(f"lower(trim(email)) IN ({_quoted(person.emails)})")
        if "email_hash" in columns:
            preds.append(f"email_hash IN ({_quoted({_hash(config, e) for e in person.emails})})")
    if person.contact_ids:
        ids = _quoted(person.contact_ids)
        if "contact_id" in columns:
            preds.append(f"contact_id IN ({ids})")
        if short in ("hubspot_contacts", "hubspot_contacts__rejects") and "id" in columns:
            preds.append(f"id IN ({ids})")
        if short.startswith("hubspot_contacts_to_") and "from_id" in columns:
            preds.append(f"from_id IN ({ids})")
        if short.startswith("hubspot_") and short.endswith("_to_contacts") and "to_id" in columns:
            preds.append(f"to_id IN ({ids})")
    if person.user_ids:
        if "user_id" in columns:
            preds.append(f"user_id IN ({_quoted(person.user_ids)})")
        if "user_key" in columns:
            preds.append(f"user_key IN ({_quoted({_hash(config, u) for u in person.user_ids})})")
    return preds


def _delta_tables(spark: SparkSession, config: Config) -> list[str]:
    from extract_load.maintain import delta_tables

    return delta_tables(spark, [config.lakehouse.bronze_schema, *LAYERS])


def forget(spark: SparkSession, config: Config, email: str | None = None, contact_id: str | None = None,
           user_id: str | None = None, vacuum_hours: int | None = None) -> dict[str, int]:
    """Delete a person everywhere; returns rows deleted per table. Raises ConfigError without an identifier."""
    if not (email or contact_id or user_id):
        raise ConfigError("forget: give --email, --contact-id or --user-id")
    person = resolve_person(spark, config, email, contact_id, user_id)
    retain = config.maintenance.retain_hours if vacuum_hours is None else vacuum_hours
    deleted: dict[str, int] = {}
    for table in _delta_tables(spark, config):
        columns = {f.name for f in spark.table(table).schema.fields}
        preds = _predicates(config, table, columns, person)
        if not preds:
            continue
        condition = " OR ".join(f"({p})" for p in preds)
        count = spark.sql(f"SELECT count(*) FROM {table} WHERE {condition}").first()[0]
        if not count:
            continue
        spark.sql(f"DELETE FROM {table} WHERE {condition}")
        spark.sql(f"REORG TABLE {table} APPLY (PURGE)")
        _vacuum(spark, table, retain)
        deleted[table] = count
        log.info("%s: erased %d row(s)", table, count)
    _record(spark, config, email, contact_id, user_id, deleted, retain)
    return deleted


def _vacuum(spark: SparkSession, table: str, hours: int) -> None:
    """VACUUM; a retention under Delta's safety minimum is allowed only for an explicit erasure."""
    check = "spark.databricks.delta.retentionDurationCheck.enabled"
    previous = spark.conf.get(check, "true")
    if hours < 168:
        spark.conf.set(check, "false")
    try:
        spark.sql(f"VACUUM {table} RETAIN {int(hours)} HOURS")
    finally:
        spark.conf.set(check, previous)


_ERASURES = T.StructType([
    T.StructField("erasure_id", T.StringType()), T.StructField("requested_at", T.TimestampType()),
    T.StructField("identifier_kinds", T.StringType()), T.StructField("request_hash", T.StringType()),
    T.StructField("tables", T.StringType()), T.StructField("rows_deleted", T.LongType()),
    T.StructField("vacuum_retain_hours", T.IntegerType()),
])


def _record(spark, config, email, contact_id, user_id, deleted, retain) -> None:
    kinds = ",".join(k for k, v in (("email", email), ("contact_id", contact_id), ("user_id", user_id)) if v)
    request = "|".join(v.strip().lower() for v in (email, contact_id, user_id) if v)
    key = config.privacy.pii_hash_key.get_secret_value().encode()
    row = (str(uuid.uuid4()), datetime.now(timezone.utc).replace(tzinfo=None), kinds,
           hmac.new(key, request.encode(), hashlib.sha256).hexdigest(), ",".join(sorted(deleted)),
           sum(deleted.values()), int(retain))
    from extract_load.monitoring.history import append

    append(spark, config, "erasures", _ERASURES, [row])


def apply_retention(spark: SparkSession, config: Config, now: datetime | None = None) -> dict[str, int]:
    """Delete rows older than each table's `retention_days` (by its cursor) in bronze and silver, then VACUUM."""
    now = (now or datetime.now(timezone.utc)).replace(tzinfo=None)
    deleted: dict[str, int] = {}
    targets: list[tuple[str, str, int]] = []
    if config.data_sources.redshift:
        for t in config.data_sources.redshift.tables:
            if t.retention_days:
                targets.append((config.bronze_table("redshift", t.name), t.cursor, t.retention_days))
                targets.append((f"silver.stg_redshift__{t.name}", t.cursor, t.retention_days))
    if config.data_sources.hubspot:
        for e in config.data_sources.hubspot.endpoints:
            if e.retention_days:
                targets.append((config.bronze_table("hubspot", e.name), "updated_at", e.retention_days))
    for table, column, days in targets:
        if not spark.catalog.tableExists(table):
            continue
        if column not in {f.name for f in spark.table(table).schema.fields}:
            continue
        cutoff = (now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")
        condition = f"`{column}` < timestamp'{cutoff}'"
        count = spark.sql(f"SELECT count(*) FROM {table} WHERE {condition}").first()[0]
        if count:
            spark.sql(f"DELETE FROM {table} WHERE {condition}")
            _vacuum(spark, table, config.maintenance.retain_hours)
        deleted[table] = count
        log.info("%s: %d row(s) older than %d days removed", table, count, days)
    return deleted
