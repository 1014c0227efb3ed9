with events as (
    select * from {{ ref('stg_redshift__customer_behavior') }}
    where not is_missing_user_id
),

sessions as (
    select
        user_id,
        session_id,
        event_date,
        (unix_millis(max(event_at)) - unix_millis(min(event_at))) / 1000.0 as session_duration_seconds
    from events
    group by user_id, session_id, event_date
),

session_totals as (
    select
        user_id,
        event_date,
        count(*) as sessions,
        sum(session_duration_seconds) as engaged_seconds
    from sessions
    group by user_id, event_date
),

event_totals as (
    select
        user_id,
        event_date,
        count(*) as events,
        sum(case when event_name = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_name = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        sum(case when event_name = 'purchase' then 1 else 0 end) as purchases,
        sum(case when event_name = 'purchase' and not has_negative_revenue then revenue_amount end) as revenue_amount,
        count(distinct device_type) as device_types_used
    from events
    group by user_id, event_date
),

final as (
    select
        {{ pii_hash('event_totals.user_id') }} as user_key,
        event_totals.event_date as activity_date,
        session_totals.sessions,
        event_totals.events,
        event_totals.page_views,
        event_totals.add_to_carts,
        event_totals.purchases,
        coalesce(event_totals.revenue_amount, 0) as revenue_amount,
        event_totals.device_types_used,
        session_totals.engaged_seconds,
        session_totals.engaged_seconds / nullif(session_totals.sessions, 0) as avg_session_duration_seconds,
        event_totals.events / nullif(session_totals.sessions, 0) as events_per_session
    from event_totals
    inner join session_totals
        on event_totals.user_id = session_totals.user_id
        and event_totals.event_date = session_totals.event_date
)

select * from final
