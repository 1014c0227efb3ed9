"""Server-side, deterministic data generation: seeding the history and advancing time.

Every value is a pure function of (seed, row key) through `hashint8extended`, computed by
INSERT ... SELECT over generate_series inside PostgreSQL: no random state, no data shipped
over the wire. So the same seed and scale give byte-identical tables, and a million events
take seconds.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from . import catalog as cat
from .db import literal, statements, text_array, transaction, SCHEMA_SQL

TABLES = ("marketing_campaigns", "customer_behavior", "web_analytics")

# u(k, salt): a uniform double in [0, 1) from a 64-bit key. pg_temp keeps the helpers out of
# the Redshift-shaped schema; they vanish with the session.
HELPERS = """
CREATE FUNCTION pg_temp.u(k bigint, salt bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (hashint8extended(k, salt) & 281474976710655)::double precision / 281474976710656.0 $$
"""


def _salt(seed: int) -> int:
    return (int(seed) % 1_000_000_007) * 1000


def _ts(value: datetime) -> str:
    return literal(value.strftime("%Y-%m-%d %H:%M:%S.%f+00"))


# ---------------------------------------------------------------- marketing_campaigns

def _campaign_metrics(s: int) -> str:
    """Select-list tail computing delivery metrics from `spend_abs`, `channel` and key `k`."""
    return f"""
        100 + floor(spend_abs * 1000 / (CASE channel WHEN 'search' THEN 30 WHEN 'shopping' THEN 20
                                              WHEN 'video' THEN 12 ELSE 6 END
                                         * (0.6 + 0.8 * pg_temp.u(k, {s}+31))))::bigint AS impressions_v,
        0.005 + 0.055 * pg_temp.u(k, {s}+32) AS ctr,
        0.01 + 0.11 * pg_temp.u(k, {s}+33) AS cvr,
        20 + 130 * pg_temp.u(k, {s}+34) AS aov"""


_CAMPAIGN_OUT = """
    SELECT {campaign_id}, date, {campaign_name}, channel, status, budget, {spend},
           impressions_v, 1 + floor(impressions_v * ctr)::bigint,
           floor((1 + floor(impressions_v * ctr)) * cvr)::int,
           round((floor((1 + floor(impressions_v * ctr)) * cvr) * aov)::numeric, 2),
           currency, created_at, {updated_at}
    FROM m"""


def _seed_campaigns(s: int, n_campaigns: int) -> str:
    rates = cat.RATES["marketing_campaigns"]
    start = (cat.ANCHOR - timedelta(days=cat.DAYS)).date().isoformat()
    return f"""
INSERT INTO public.marketing_campaigns
WITH c AS (
    SELECT i,
           'gads-' || lpad(i::varchar, 6, '0') AS campaign_id,
           ({text_array(cat.CHANNELS)})[1 + floor(pg_temp.u(i, {s}+1) * {len(cat.CHANNELS)})::int] AS channel,
           CASE WHEN pg_temp.u(i, {s}+2) < 0.7 THEN 'ENABLED'
                WHEN pg_temp.u(i, {s}+2) < 0.9 THEN 'PAUSED' ELSE 'REMOVED' END AS status,
           ({text_array(cat.CAMPAIGN_NAMES)})[1 + floor(pg_temp.u(i, {s}+3) * {len(cat.CAMPAIGN_NAMES)})::int] AS base_name,
           round((50 + 1950 * pg_temp.u(i, {s}+4))::numeric, 0) AS budget,
           CASE WHEN pg_temp.u(i, {s}+5) < 0.8 THEN 'USD'
                WHEN pg_temp.u(i, {s}+5) < 0.95 THEN 'EUR' ELSE 'GBP' END AS currency,
           timestamp '{start}' - floor(pg_temp.u(i, {s}+6) * 90 * 86400) * interval '1 second' AS created_at
    FROM generate_series(1, {n_campaigns}) i
), r AS (
    SELECT c.*, c.base_name || ' · ' || initcap(c.channel) || ' #' || c.i AS campaign_name,
           (date '{start}' + g) AS date, c.i::bigint * 100000 + g AS k
    FROM c CROSS JOIN generate_series(0, {cat.DAYS - 1}) g
), p AS (
    SELECT r.*,
           round(budget * (CASE status WHEN 'ENABLED' THEN 0.55 + 0.5 * pg_temp.u(k, {s}+30)
                                       WHEN 'PAUSED' THEN 0.02 + 0.08 * pg_temp.u(k, {s}+30)
                                       ELSE 0.01 + 0.04 * pg_temp.u(k, {s}+30) END)::numeric, 2) AS spend_abs
    FROM r
), m AS (
    SELECT p.*, {_campaign_metrics(s)} FROM p
)""" + _CAMPAIGN_OUT.format(
        campaign_id=f"CASE WHEN pg_temp.u(k, {s}+20) < {rates['null_campaign_id']} THEN NULL ELSE campaign_id END",
        campaign_name=f"CASE WHEN pg_temp.u(k, {s}+21) < {rates['null_campaign_name']} THEN NULL ELSE campaign_name END",
        spend=f"CASE WHEN pg_temp.u(k, {s}+22) < {rates['negative_spend']} THEN -(spend_abs + 1) ELSE spend_abs END",
        updated_at=f"date + interval '20 hours' + floor(pg_temp.u(k, {s}+23) * 14399) * interval '1 second'",
    )


def _advance_campaigns(cur, s: int, hours: float) -> dict:
    cur.execute("SELECT max(updated_at), max(date) FROM public.marketing_campaigns")
    t0, last_date = cur.fetchone()
    t1 = t0 + timedelta(hours=hours)
    secs = max(1, int(hours * 3600))
    key = f"hashtextextended(campaign_id || ':' || date::varchar, {s})"
    # fewer new conversions than new clicks than new impressions: the funnel stays ordered
    d_conv = f"floor((1 + floor(pg_temp.u({key}, {s}+44) * 60)) * 0.1 * pg_temp.u({key}, {s}+45))::int"
    # restate today's and yesterday's delivery: the ads API keeps revising recent days
    cur.execute(f"""
UPDATE public.marketing_campaigns SET
    spend = least(budget * 1.05, spend + round(budget * 0.1 * pg_temp.u({key}, {s}+41)::numeric, 2)),
    impressions = impressions + 100 + floor(pg_temp.u({key}, {s}+43) * 2000)::bigint,
    clicks = clicks + 1 + floor(pg_temp.u({key}, {s}+44) * 60)::bigint,
    conversions = conversions + {d_conv},
    conversion_value = conversion_value + round(({d_conv} * 60)::numeric, 2),
    updated_at = {_ts(t0)}::timestamp + (1 + floor(pg_temp.u({key}, {s}+42) * {secs - 1})) * interval '1 second'
WHERE date >= date {literal((t1.date() - timedelta(days=1)).isoformat())}
  AND campaign_id IS NOT NULL AND spend >= 0 AND status = 'ENABLED'
  AND pg_temp.u({key}, {s}+40) < 0.6""")
    updated = cur.rowcount
    new_days = (t1.date() - last_date).days
    inserted = 0
    if new_days > 0:
        cur.execute(f"""
INSERT INTO public.marketing_campaigns
WITH base AS (
    SELECT DISTINCT ON (campaign_id) campaign_id, campaign_name, channel, status, budget,
           currency, created_at
    FROM public.marketing_campaigns
    WHERE campaign_id IS NOT NULL AND campaign_name IS NOT NULL
    ORDER BY campaign_id, date DESC
), r AS (
    SELECT base.*, d::date AS date,
           hashtextextended(campaign_id || ':' || d::date::varchar, {s}) AS k,
           least(1.0, greatest(0.05, extract(epoch FROM {_ts(t1)}::timestamp - d) / 86400.0)) AS frac,
           greatest(d, {_ts(t0)}::timestamp) AS since
    FROM base CROSS JOIN generate_series(date {literal(last_date.isoformat())} + 1,
                                         date {literal(t1.date().isoformat())}, interval '1 day') d
), p AS (
    SELECT r.*,
           round(budget * frac * (CASE status WHEN 'ENABLED' THEN 0.55 + 0.5 * pg_temp.u(k, {s}+30)
                                              WHEN 'PAUSED' THEN 0.02 + 0.08 * pg_temp.u(k, {s}+30)
                                              ELSE 0.01 + 0.04 * pg_temp.u(k, {s}+30) END)::numeric, 2) AS spend_abs
    FROM r
), m AS (
    SELECT p.*, {_campaign_metrics(s)} FROM p
)""" + _CAMPAIGN_OUT.format(
            campaign_id="campaign_id", campaign_name="campaign_name", spend="spend_abs",
            updated_at=f"since + (1 + floor(pg_temp.u(k, {s}+23) * greatest(1, extract(epoch FROM "
                       f"{_ts(t1)}::timestamp - since) - 1))) * interval '1 second'",
        ))
        inserted = cur.rowcount
    return {"inserted": inserted, "updated": updated}


# ---------------------------------------------------------------- customer_behavior

def _events_sql(s: int, seed: int, *, n: int, k0: int, t0: datetime, span_s: float,
                n_users: int, tag: str, late_rate: float, received: str | None = None) -> str:
    """INSERT of exactly `n` events from sessions keyed k0+1.. starting in [t0, t0+span)."""
    rates = cat.RATES["customer_behavior"]
    pages = text_array(p for p, _ in cat.PAGES)
    titles = text_array(t for _, t in cat.PAGES)
    cities = text_array(c for _, c in cat.PLACES)
    countries = text_array(c for c, _ in cat.PLACES)
    t0_ms = int(t0.timestamp() * 1000)
    span_ms = max(1, int(span_s * 1000))
    dup = rates["exact_duplicate"]
    prod_lo, prod_n = cat.PRODUCTS[0], len(cat.PRODUCTS)
    idx = cat.PAGE_INDEX
    received = received or f"""CASE WHEN pg_temp.u(ks, {s}+17) < {late_rate}
             THEN ts + (3900000 + floor(pg_temp.u(ks, {s}+18) * 3000000))::bigint * interval '1 millisecond'
             ELSE ts + (200 + floor(pg_temp.u(ks, {s}+18) * 60000))::bigint * interval '1 millisecond' END"""
    return f"""
INSERT INTO public.customer_behavior
WITH a AS (
    SELECT k, pg_temp.u(k, {s}+2) AS x
    FROM generate_series({k0 + 1}::bigint, {k0 + n // 2 + 1}::bigint) k
), b AS (
    SELECT k,
           CASE WHEN x < 0.65 THEN 0 WHEN x < 0.78 THEN 1 WHEN x < 0.87 THEN 2
                WHEN x < 0.93 THEN 3 ELSE 4 END AS st,
           1 + floor(pg_temp.u(k, {s}+3) * {n_users})::bigint AS uid,
           {t0_ms}::bigint + floor(pg_temp.u(k, {s}+4) * {span_ms})::bigint AS session_ms,
           pg_temp.u(k, {s}+5) AS dv, pg_temp.u(k, {s}+6) AS pv
    FROM a
), sess AS (
    SELECT b.*, greatest(2 + floor(pg_temp.u(k, {s}+1) * 8)::int, st + 2) AS len FROM b
), e AS (
    SELECT sess.*, j,
           CASE WHEN j > 1 AND pg_temp.u(k * 16 + j, {s}+10) < {dup}
                     AND NOT (j > 2 AND pg_temp.u(k * 16 + j - 1, {s}+10) < {dup})
                THEN j - 1 ELSE j END AS js
    FROM sess CROSS JOIN LATERAL generate_series(1, sess.len) j
    LIMIT {n}
), f AS (
    SELECT e.*, k * 16 + js AS ks,
           CASE WHEN js = 1 THEN 'session_start'
                WHEN js > len - st THEN ({text_array(cat.FUNNEL)})[js - (len - st)]
                ELSE 'page_view' END AS event_name,
           CASE WHEN dv < 0.5 THEN 'desktop' WHEN dv < 0.9 THEN 'mobile' ELSE 'tablet' END AS device_type,
           timestamptz 'epoch' + (session_ms + (js - 1) * 45000
               + floor(pg_temp.u(k * 16 + js, {s}+11) * 40000)::bigint) * interval '1 millisecond' AS ts,
           1 + floor(pg_temp.u(uid, {s}+7) * {len(cat.PLACES)})::int AS place
    FROM e
), g AS (
    SELECT f.*,
           CASE event_name WHEN 'sign_up' THEN {idx['/account/sign-up']}
                WHEN 'add_to_cart' THEN {prod_lo} + floor(pg_temp.u(ks, {s}+14) * {prod_n})::int
                WHEN 'begin_checkout' THEN {idx['/checkout']}
                WHEN 'purchase' THEN {idx['/checkout/confirmation']}
                ELSE 1 + floor(pg_temp.u(ks, {s}+14) ^ 2 * {len(cat.PAGES)})::int END AS pidx
    FROM f
)
SELECT
    CASE WHEN pg_temp.u(ks, {s}+12) < {rates['null_event_id']} THEN NULL
         ELSE md5({literal(f'{seed}:{tag}:')} || ks)::uuid::varchar END,
    CASE WHEN pg_temp.u(ks, {s}+13) < {rates['null_user_id']} THEN NULL
         ELSE 'user-' || lpad(uid::varchar, 6, '0') END,
    'dev-' || substr(md5({literal(f'{seed}:device:')} || uid || device_type), 1, 20),
    event_name, ts, session_ms,
    'https://shop.example.com' || ({pages})[pidx],
    device_type,
    CASE device_type WHEN 'desktop' THEN 'Web'
         WHEN 'mobile' THEN CASE WHEN pv < 0.45 THEN 'iOS' WHEN pv < 0.9 THEN 'Android' ELSE 'Web' END
         ELSE CASE WHEN pv < 0.6 THEN 'iOS' ELSE 'Android' END END,
    ({countries})[place], ({cities})[place],
    CASE WHEN event_name = 'purchase' THEN round((15 + 485 * pg_temp.u(ks, {s}+15))::numeric, 2) END,
    json_build_object(
        'page_title', ({titles})[pidx],
        'referrer', ({text_array(cat.REFERRERS)})[1 + floor(pg_temp.u(k, {s}+8) * {len(cat.REFERRERS)})::int],
        'utm_campaign', ({text_array(cat.CAMPAIGN_NAMES)})[1 + floor(pg_temp.u(k, {s}+9) * {len(cat.CAMPAIGN_NAMES)})::int],
        'app_version', '3.' || floor(pg_temp.u(uid, {s}+16) * 12)::int,
        'items', CASE WHEN event_name IN ('add_to_cart', 'begin_checkout', 'purchase')
                      THEN 1 + floor(pg_temp.u(ks, {s}+19) * 4)::int END
    )::varchar,
    {received}
FROM g"""


def _seed_events(s: int, seed: int, n: int) -> str:
    window = timedelta(days=cat.DAYS) - timedelta(hours=3)  # keeps late arrivals before the anchor
    return _events_sql(s, seed, n=n, k0=0, t0=cat.ANCHOR - timedelta(days=cat.DAYS),
                       span_s=window.total_seconds(), n_users=max(100, n // 25), tag="seed",
                       late_rate=cat.RATES["customer_behavior"]["late_event"])


def _advance_events(cur, s: int, seed: int, hours: float) -> dict:
    cur.execute("SELECT count(*), max(event_timestamp), max(server_received_at) "
                "FROM public.customer_behavior")
    rows, max_ts, t0 = cur.fetchone()
    n_new = max(20, round(rows / (cat.DAYS * 24) * hours))
    n_late = max(2, round(n_new * 0.05))
    n_users = max(100, rows // 25)
    k0 = 1_000_000_000_000 + int(t0.timestamp()) * 1000  # a key range no other batch uses
    span = max(1.0, hours * 3600 - 600)  # sessions last up to ~7 minutes
    cur.execute(_events_sql(s, seed, n=n_new, k0=k0, t0=t0, span_s=span, n_users=n_users,
                            tag=f"adv{k0}", late_rate=0.0))
    inserted = cur.rowcount
    # late arrivals: happened 75-115 minutes before the previous max event_timestamp (inside
    # a 2-hour lookback), received only now
    late_t0 = max_ts - timedelta(minutes=115)
    received = (f"{_ts(t0)}::timestamptz + (1000 + floor(pg_temp.u(ks, {s}+18) * "
                f"{max(1, int(hours * 3600_000) - 1000)}))::bigint * interval '1 millisecond'")
    cur.execute(_events_sql(s, seed, n=n_late, k0=k0 + 500_000, t0=late_t0, span_s=30 * 60,
                            n_users=n_users, tag=f"late{k0}", late_rate=0.0, received=received))
    late = cur.rowcount
    return {"inserted": inserted + late, "late": late}


# ---------------------------------------------------------------- web_analytics

_GA4_OUT = """
    SELECT date, {page_path}, page_title, {sessions}, users_v, new_users_v, pageviews_v,
           bounce_rate_v, avg_v, conv_v, {revenue}, {updated_at}
    FROM (SELECT q.*,
                 floor(users_v * (0.2 + 0.4 * pg_temp.u(k, {s}+52)))::int AS new_users_v,
                 (sessions_v + floor(sessions_v * (0.1 + 1.9 * pg_temp.u(k, {s}+53))))::int AS pageviews_v,
                 round((0.2 + 0.6 * pg_temp.u(k, {s}+54))::numeric, 4) AS bounce_rate_v,
                 round((20 + 380 * pg_temp.u(k, {s}+55))::numeric, 2) AS avg_v,
                 round((conv_v * (20 + 130 * pg_temp.u(k, {s}+57)))::numeric, 2) AS revenue_v
          FROM (SELECT m.*, greatest(1, floor(sessions_v * (0.7 + 0.25 * pg_temp.u(k, {s}+51))))::int AS users_v,
                       floor(sessions_v * 0.05 * pg_temp.u(k, {s}+56))::int AS conv_v
                FROM m) q) z"""


def _seed_ga4(s: int, scale: int) -> str:
    rates = cat.RATES["web_analytics"]
    start = (cat.ANCHOR - timedelta(days=cat.DAYS)).date().isoformat()
    extra = len(cat.PAGES) * (scale - 1)
    neg_s, neg_r = rates["negative_sessions"], rates["negative_revenue"]
    return f"""
INSERT INTO public.web_analytics
WITH p AS (
    SELECT ord::int AS pi, path, title
    FROM unnest({text_array(p for p, _ in cat.PAGES)}, {text_array(t for _, t in cat.PAGES)})
         WITH ORDINALITY AS t(path, title, ord)
    UNION ALL
    SELECT {len(cat.PAGES)} + g, '/products/item-' || lpad(g::varchar, 5, '0'), 'Item ' || g
    FROM generate_series(1, {extra}) g
), m AS (
    SELECT (date '{start}' + g) AS date, path AS page_path, title AS page_title,
           pi::bigint * 100000 + g AS k,
           greatest(1, floor(3000 / power(pi, 0.8)
                             * CASE WHEN extract(isodow FROM date '{start}' + g) >= 6 THEN 0.75 ELSE 1 END
                             * (0.7 + 0.6 * pg_temp.u(pi::bigint * 100000 + g, {s}+50))))::int AS sessions_v
    FROM p CROSS JOIN generate_series(0, {cat.DAYS - 1}) g
)""" + _GA4_OUT.format(
        s=s,
        page_path=f"CASE WHEN pg_temp.u(k, {s}+60) < {rates['null_page_path']} THEN NULL ELSE page_path END",
        sessions=f"CASE WHEN pg_temp.u(k, {s}+61) < {neg_s} THEN -sessions_v ELSE sessions_v END",
        revenue=f"CASE WHEN pg_temp.u(k, {s}+61) >= {neg_s} AND pg_temp.u(k, {s}+61) < {neg_s + neg_r} "
                f"THEN -(revenue_v + 10) ELSE revenue_v END",
        updated_at=f"date + interval '23 hours' + floor(pg_temp.u(k, {s}+58) * 3599) * interval '1 second'",
    )


def _advance_ga4(cur, s: int, hours: float) -> dict:
    cur.execute("SELECT max(updated_at), max(date) FROM public.web_analytics")
    u0, last_date = cur.fetchone()
    secs = max(2, int(hours * 3600))
    key = f"hashtextextended(coalesce(page_path, '') || ':' || date::varchar, {s})"
    f = f"(1 + 0.08 * pg_temp.u({key}, {s}+71))::numeric"
    later = f"{_ts(u0)}::timestamp + (1 + floor(pg_temp.u({key}, {s}+70) * {secs - 1})) * interval '1 second'"
    # GA4 restates the last three days: numbers drift up, updated_at moves on
    cur.execute(f"""
UPDATE public.web_analytics SET
    sessions = round(sessions * {f})::int, users = round(users * {f})::int,
    new_users = round(new_users * {f})::int, pageviews = round(pageviews * {f})::int,
    conversions = round(conversions * {f})::int, revenue = round(revenue * {f}, 2),
    updated_at = {later}
WHERE date > date {literal(last_date.isoformat())} - 3""")
    updated = cur.rowcount
    new_day = last_date + timedelta(days=1)
    cur.execute(f"""
INSERT INTO public.web_analytics
WITH latest AS (
    SELECT DISTINCT ON (page_path) page_path, page_title, sessions
    FROM public.web_analytics
    WHERE page_path IS NOT NULL
    ORDER BY page_path, date DESC
), keyed AS (
    SELECT latest.*, hashtextextended(page_path || ':' || {literal(new_day.isoformat())}, {s}) AS k
    FROM latest
), m AS (
    SELECT date {literal(new_day.isoformat())} AS date, page_path, page_title, k,
           greatest(1, round(abs(sessions) * (0.85 + 0.3 * pg_temp.u(k, {s}+50))))::int AS sessions_v
    FROM keyed
)""" + _GA4_OUT.format(
        s=s, page_path="page_path", sessions="sessions_v", revenue="revenue_v",
        updated_at=f"{_ts(u0)}::timestamp + (1 + floor(pg_temp.u(k, {s}+70) * {secs - 1})) * interval '1 second'",
    ))
    return {"inserted": cur.rowcount, "updated": updated}


# ---------------------------------------------------------------- entry points

def event_count(scale: int, events: int | None) -> int:
    return int(events) if events is not None else cat.EVENTS_PER_SCALE * int(scale)


def seed(conn_info: dict, seed: int = 42, scale: int = 1, events: int | None = None) -> dict:
    """(Re)create the three tables and fill them; returns the row count of each."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, not {scale}")
    n_events = event_count(scale, events)
    if n_events < 1:
        raise ValueError(f"events must be >= 1, not {n_events}")
    s = _salt(seed)
    with transaction(conn_info) as cur:
        cur.execute(HELPERS)
        for table in TABLES:
            cur.execute(f"DROP TABLE IF EXISTS public.{table}")
        for statement in statements(SCHEMA_SQL.read_text()):
            cur.execute(statement)
        # created in this transaction with wal_level=minimal: the bulk inserts skip the WAL
        cur.execute(_seed_campaigns(s, cat.CAMPAIGNS_PER_SCALE * scale))
        cur.execute(_seed_events(s, seed, n_events))
        cur.execute(_seed_ga4(s, scale))
        for table, column in (("marketing_campaigns", "updated_at"),
                              ("customer_behavior", "event_timestamp"),
                              ("customer_behavior", "server_received_at"),
                              ("web_analytics", "date")):
            cur.execute(f"CREATE INDEX {table}_{column}_idx ON public.{table} ({column})")
        counts = {}
        for table in TABLES:
            cur.execute(f"ANALYZE public.{table}")
            cur.execute(f"SELECT count(*) FROM public.{table}")
            counts[table] = cur.fetchone()[0]
    return counts


def advance(conn_info: dict, hours: float = 1.0, seed: int | None = None) -> dict:
    """Move the source's clock forward by `hours`; see the package docstring for what changes."""
    if not hours > 0:
        raise ValueError(f"hours must be > 0, not {hours}")
    with transaction(conn_info) as cur:
        if seed is None:  # deterministic from the current state
            cur.execute("SELECT max(server_received_at) FROM public.customer_behavior")
            seed = int(cur.fetchone()[0].timestamp()) % 1_000_003
        s = _salt(seed) + 7  # never the seed salt itself: advance rows differ from history
        cur.execute(HELPERS)
        result = {
            "marketing_campaigns": _advance_campaigns(cur, s, hours),
            "customer_behavior": _advance_events(cur, s, seed, hours),
            "web_analytics": _advance_ga4(cur, s, hours),
        }
    result["seed"] = seed
    result["hours"] = hours
    return result


def add_column(conn_info: dict, table: str, column: str, sql_type: str,
               fill_sql: str | None = None) -> int:
    """ALTER TABLE ADD COLUMN; with `fill_sql` (an expression), set it on every row.

    Returns the number of rows filled (0 without fill_sql).
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
    if not column.isidentifier() or not column.islower():
        raise ValueError(f"column name must be a lower-case identifier, not {column!r}")
    with transaction(conn_info) as cur:
        cur.execute(f"ALTER TABLE public.{table} ADD COLUMN {column} {sql_type}")
        if fill_sql is None:
            return 0
        cur.execute(f"UPDATE public.{table} SET {column} = {fill_sql}")
        return cur.rowcount

