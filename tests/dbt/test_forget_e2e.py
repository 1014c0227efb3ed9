"""Right to erasure on the built lakehouse: `forget` by email (the CLI), by HubSpot contact id and
by Amplitude user id leaves no row, no live data file and no file on disk holding the person, and
changes nobody else's rows.

The three people are erased once, in a module fixture, from the suite's shared lakehouse; the
tests then check what that left behind. They are people no other test depends on: contacts with
a valid email of their own (not the planted duplicates or invalid emails the data-quality tests
count), neither archived nor merged, and one user among hundreds. VACUUM runs with retention 0
(`--vacuum-hours 0`), so old file versions must be gone from disk too.
"""
from __future__ import annotations

import contextlib
import io
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from extract_load.cli import main
from extract_load.maintain import delta_tables
from extract_load.privacy import _hash, forget

SCHEMAS = ["bronze", "silver", "gold", "dq_failures", "ops"]

# Contacts whose email is valid and theirs alone, live, unmerged, and in silver.
CONTACTS = r"""
with emails as (select lower(trim(email)) as email, count(*) as n from bronze.hubspot_contacts group by 1),
merged as (
    select distinct trim(m) as id from bronze.hubspot_contacts
    lateral view explode(split(hs_merged_object_ids, ';')) x as m
    where nullif(trim(hs_merged_object_ids), '') is not null)
select c.id, lower(trim(c.email)) as email from bronze.hubspot_contacts c
join emails e on e.email = lower(trim(c.email)) and e.n = 1
join silver.stg_hubspot__contacts s on cast(s.contact_id as string) = c.id
where c.email rlike '^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+[.][a-zA-Z]{2,}$' and not c._is_deleted
  and nullif(trim(c.hs_merged_object_ids), '') is null and c.id not in (select id from merged)
  and exists (select 1 from bronze.{association} a where a.to_id = c.id)
order by c.id
"""


@dataclass
class Erased:
    emails: set[str]
    contact_ids: set[str]
    user_ids: set[str]
    own_rows: dict[str, int]      # rows naming them, counted independently before the erasure
    deleted: dict[str, int]       # what the three erasures report, summed per table
    runs: list[dict[str, int]]    # each erasure's report
    before: dict[str, int]        # rows per Delta table of every layer, before and after
    after: dict[str, int]
    cli_output: str
    seconds: list[float]


def _counts(spark, tables):
    return {t: spark.table(t).count() for t in tables}


@pytest.fixture(scope="module")
def erased(first_build, loaded, spark) -> Erased:
    """Erase one contact by email (through the CLI), one by contact id and one Amplitude user."""
    assert first_build.success
    config = loaded
    by_email = spark.sql(CONTACTS.replace("{association}", "hubspot_deals_to_contacts")).first()
    rows = spark.sql(CONTACTS.replace("{association}", "hubspot_tickets_to_contacts")).collect()
    by_id = next(r for r in rows if r.id != by_email.id)
    user = spark.sql("select user_id, count(*) as n from bronze.redshift_customer_behavior where user_id is not null "
                     "group by 1 order by n desc, user_id limit 1").first()
    emails, ids, users = {by_email.email, by_id.email}, {by_email.id, by_id.id}, {user.user_id}
    id_list = ", ".join(f"'{i}'" for i in sorted(ids))
    own = {
        "bronze.hubspot_contacts": spark.sql(f"select count(*) from bronze.hubspot_contacts where id in ({id_list})").first()[0],
        "bronze.hubspot_deals_to_contacts": spark.sql(
            f"select count(*) from bronze.hubspot_deals_to_contacts where to_id in ({id_list})").first()[0],
        "silver.stg_hubspot__contacts": spark.sql(
            f"select count(*) from silver.stg_hubspot__contacts where cast(contact_id as string) in ({id_list})").first()[0],
        "bronze.redshift_customer_behavior": user.n,
    }
    tables = delta_tables(spark, SCHEMAS)
    before = _counts(spark, tables)

    runs, seconds = [], []
    t0 = time.monotonic()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["--config", config.source_file, "forget", "--email", by_email.email.upper(), "--vacuum-hours", "0"])
    assert code == 0, out.getvalue()
    seconds.append(time.monotonic() - t0)
    # The CLI prints one line per table: "<table>   <rows> row(s) erased".
    lines = (re.match(r"^(\S+\.\S+)\s+([\d,]+) row\(s\) erased$", line) for line in out.getvalue().splitlines())
    runs.append({m.group(1): int(m.group(2).replace(",", "")) for m in lines if m})
    for kwargs in ({"contact_id": by_id.id}, {"user_id": user.user_id}):
        t0 = time.monotonic()
        runs.append(forget(spark, config, vacuum_hours=0, **kwargs))
        seconds.append(time.monotonic() - t0)
    after = _counts(spark, delta_tables(spark, SCHEMAS))
    deleted: dict[str, int] = {}
    for report in runs:
        for table, n in report.items():
            deleted[table] = deleted.get(table, 0) + n
    print(f"\nforget: {', '.join(f'{s:.0f}s' for s in seconds)} (email via CLI, contact id, user id)")
    return Erased(emails, ids, users, own, deleted, runs, before, after, out.getvalue(), seconds)


def test_each_erasure_reaches_every_layer(erased):
    email, by_id, by_user = erased.runs
    for report in (email, by_id):
        assert {"bronze.hubspot_contacts", "silver.stg_hubspot__contacts", "gold.dim_contacts"} <= set(report), report
    assert "bronze.hubspot_deals_to_contacts" in email and "bronze.hubspot_tickets_to_contacts" in by_id
    assert {"bronze.redshift_customer_behavior", "silver.stg_redshift__customer_behavior",
            "gold.fct_user_daily_engagement"} <= set(by_user), by_user
    assert all(n > 0 for report in erased.runs for n in report.values())


def test_only_the_erased_people_rows_are_gone(erased):
    for table, own in erased.own_rows.items():
        assert erased.deleted.get(table) == own > 0, f"{table}: {erased.deleted.get(table)} deleted, {own} named them"
    assert set(erased.deleted) <= set(erased.before)
    assert erased.after["ops.erasures"] == erased.before.get("ops.erasures", 0) + 3
    for table, count in erased.before.items():
        if table == "ops.erasures":
            continue
        assert erased.after[table] == count - erased.deleted.get(table, 0), f"{table}: someone else's rows changed"


def test_no_live_data_file_holds_them(erased, spark, loaded):
    """Every file the tables' current snapshots reference, read raw: deletion vectors, which only
    hide rows, are ignored, so this is stricter than querying the tables."""
    files = sorted({f.removeprefix("file:") for t in erased.after for f in spark.table(t).inputFiles()})
    assert len(files) > 50
    assert _holders(files, erased, _hasher(loaded)) == []


def test_no_file_on_disk_holds_them_after_vacuum(erased, spark, loaded):
    """Retention 0: the files older versions used are deleted, so nothing under the lakehouse or
    the warehouse (stored test failures) holds the people any more."""
    roots = [Path(loaded.lakehouse_root), Path(loaded.path(loaded.spark.warehouse_dir))]
    files = [str(p) for root in roots for p in root.rglob("*.parquet") if "_delta_log" not in p.parts]
    assert len(files) > 50
    assert _holders(files, erased, _hasher(loaded)) == []


def test_each_erasure_is_recorded_without_the_personal_data(erased, spark):
    records = spark.table("ops.erasures").orderBy("requested_at", ascending=False).limit(3).collect()[::-1]
    assert [r.identifier_kinds for r in records] == ["email", "contact_id", "user_id"]
    for record, report in zip(records, erased.runs):
        assert record.rows_deleted == sum(report.values()) and record.vacuum_retain_hours == 0
        text = str(record.asDict()).lower()
        assert not [v for v in erased.emails | erased.contact_ids | erased.user_ids
                    if re.search(rf"(?<![\w.@-]){re.escape(v.lower())}(?![\w.@-])", text)], text
    assert "erased from" in erased.cli_output
    assert not [e for e in erased.emails if e in erased.cli_output.lower()], "the CLI never prints the email"


# --------------------------------------------------------------------------- helpers


def _list(values) -> str:
    return ", ".join(f"'{v}'" for v in sorted(values))


def _hasher(config):
    """The keyed hash gold stores instead of an email or user id."""
    return lambda value: _hash(config, value)


def _table_name(path: Path) -> str:
    for parent in path.parents:
        if (parent / "_delta_log").is_dir():
            return parent.name
    return path.parent.name


def _holders(files: list[str], erased: Erased, digest) -> list[str]:
    """Files holding an erased person: their email, user id or keyed hashes in any text column, or
    their contact id in a column that names contacts."""
    distinctive = sorted(erased.emails | erased.user_ids | {digest(v) for v in erased.emails | erased.user_ids})
    pattern = "(^|[^A-Za-z0-9._%+-])(" + "|".join(re.escape(v) for v in distinctive) + ")($|[^A-Za-z0-9.-])"
    ids = pa.array(sorted(erased.contact_ids))
    found = []
    for name in files:
        path = Path(name)
        table = _table_name(path)
        schema = pq.read_schema(path)
        text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        id_columns = [c for c in schema.names if c == "contact_id"
                      or (c == "id" and re.fullmatch(r"(hubspot_)?contacts(__rejects)?|stg_hubspot__contacts", table))
                      or (c == "from_id" and "contacts_to_" in table) or (c == "to_id" and table.endswith("_to_contacts"))]
        data = pq.read_table(path, columns=sorted(set(text) | set(id_columns)))
        for column in text:
            if pc.any(pc.match_substring_regex(data[column], pattern, ignore_case=True)).as_py():
                found.append(f"{path}: {column}")
        for column in id_columns:
            if pc.any(pc.is_in(pc.cast(data[column], pa.string()), value_set=ids)).as_py():
                found.append(f"{path}: {column}")
    return found
