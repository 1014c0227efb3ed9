"""The exact dirty-data counts, recomputed by SQL from what the tables hold now.

Tests assert that the data-quality checks find exactly these numbers, so they are measured,
never derived from the planted rates.
"""
from __future__ import annotations

import datetime as dt
import decimal

from .catalog import RATES
from .db import connect

# Only rows sharing an event_id (or lacking one) can be exact copies of each other: comparing
# just those keeps the count exact and cheap on millions of events. `ids` is grouped once.
WITH_CLAUSE = {
    "customer_behavior": """WITH ids AS MATERIALIZED (
        SELECT event_id, count(*) AS n FROM public.customer_behavior
        WHERE event_id IS NOT NULL GROUP BY event_id)""",
}
_SAME_ID = """
    SELECT cb.* FROM public.customer_behavior cb JOIN ids ON ids.event_id = cb.event_id AND ids.n > 1
    UNION ALL
    SELECT * FROM public.customer_behavior WHERE event_id IS NULL"""

# name -> SQL expression over the table; one query per table
CHECKS = {
    "marketing_campaigns": {
        "rows": "count(*)",
        "null_campaign_id": "count(*) - count(campaign_id)",
        "null_campaign_name": "count(*) - count(campaign_name)",
        "negative_spend": "sum(CASE WHEN spend < 0 THEN 1 ELSE 0 END)",
        "distinct_keys": "count(DISTINCT campaign_id || '|' || date::varchar)",
        "duplicate_key_extra_rows": "count(campaign_id) - count(DISTINCT campaign_id || '|' || date::varchar)",
        "min_date": "min(date)",
        "max_date": "max(date)",
        "max_updated_at": "max(updated_at)",
    },
    "customer_behavior": {
        "rows": "count(*)",
        "null_event_id": "count(*) - count(event_id)",
        "exact_duplicate_extra_rows": f"(SELECT count(*) - count(DISTINCT c.*) FROM ({_SAME_ID}) c)",
        "null_user_id": "count(*) - count(user_id)",
        "late_events": "sum(CASE WHEN server_received_at - event_timestamp > interval '1 hour' THEN 1 ELSE 0 END)",
        "distinct_event_ids": "(SELECT count(*) FROM ids)",
        "duplicate_event_id_extra_rows": "count(event_id) - (SELECT count(*) FROM ids)",
        "purchases": "sum(CASE WHEN event_name = 'purchase' THEN 1 ELSE 0 END)",
        "max_event_timestamp": "max(event_timestamp)",
        "max_server_received_at": "max(server_received_at)",
    },
    "web_analytics": {
        "rows": "count(*)",
        "null_page_path": "count(*) - count(page_path)",
        "negative_sessions": "sum(CASE WHEN sessions < 0 THEN 1 ELSE 0 END)",
        "negative_revenue": "sum(CASE WHEN revenue < 0 THEN 1 ELSE 0 END)",
        "distinct_keys": "count(DISTINCT date::varchar || '|' || page_path)",
        "duplicate_key_extra_rows": "count(page_path) - count(DISTINCT date::varchar || '|' || page_path)",
        "min_date": "min(date)",
        "max_date": "max(date)",
        "max_updated_at": "max(updated_at)",
    },
}


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value)
    return 0 if value is None else value


def manifest(conn_info: dict) -> dict:
    """Per table: row count, each planted defect's exact count, keys and cursor bounds.

    Also `rates`: the probabilities the generator plants each defect with.
    """
    out: dict = {}
    conn = connect(conn_info)
    try:
        cur = conn.cursor()
        for table, checks in CHECKS.items():
            cur.execute(f"{WITH_CLAUSE.get(table, '')} "
                        f"SELECT {', '.join(checks.values())} FROM public.{table}")
            out[table] = {name: _plain(v) for name, v in zip(checks, cur.fetchone())}
        conn.rollback()
    finally:
        conn.close()
    out["rates"] = RATES
    return out
