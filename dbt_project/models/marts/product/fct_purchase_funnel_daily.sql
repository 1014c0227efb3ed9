with events as (
    select * from {{ ref('stg_redshift__customer_behavior') }}
    where event_name in ('page_view', 'add_to_cart', 'begin_checkout', 'purchase')
),

session_steps as (
    select
        device_id,
        session_id,
        min(event_date) as session_date,
        min(case when event_name = 'page_view' then event_at end) as page_view_at,
        min(case when event_name = 'add_to_cart' then event_at end) as add_to_cart_at,
        min(case when event_name = 'begin_checkout' then event_at end) as begin_checkout_at,
        min(case when event_name = 'purchase' then event_at end) as purchase_at
    from events
    group by device_id, session_id
),

ordered_steps as (
    select
        session_date,
        page_view_at is not null as reached_page_view,
        page_view_at is not null
            and add_to_cart_at >= page_view_at as reached_add_to_cart,
        page_view_at is not null
            and add_to_cart_at >= page_view_at
            and begin_checkout_at >= add_to_cart_at as reached_begin_checkout,
        page_view_at is not null
            and add_to_cart_at >= page_view_at
            and begin_checkout_at >= add_to_cart_at
            and purchase_at >= begin_checkout_at as reached_purchase
    from session_steps
),

daily as (
    select
        session_date as activity_date,
        sum(case when reached_page_view then 1 else 0 end) as page_view_sessions,
        sum(case when reached_add_to_cart then 1 else 0 end) as add_to_cart_sessions,
        sum(case when reached_begin_checkout then 1 else 0 end) as begin_checkout_sessions,
        sum(case when reached_purchase then 1 else 0 end) as purchase_sessions
    from ordered_steps
    group by session_date
),

final as (
    select
        activity_date,
        page_view_sessions,
        add_to_cart_sessions,
        begin_checkout_sessions,
        purchase_sessions,
        add_to_cart_sessions / nullif(page_view_sessions, 0) as page_view_to_cart_rate,
        begin_checkout_sessions / nullif(add_to_cart_sessions, 0) as cart_to_checkout_rate,
        purchase_sessions / nullif(begin_checkout_sessions, 0) as checkout_to_purchase_rate,
        purchase_sessions / nullif(page_view_sessions, 0) as overall_conversion_rate
    from daily
)

select * from final
