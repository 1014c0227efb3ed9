with pages as (select * from {{ ref('stg_redshift__web_analytics') }}),

daily as (
    select
        report_date,
        count(*) as pages_reported,
        sum(sessions) as sessions,
        sum(users) as users,
        sum(new_users) as new_users,
        sum(pageviews) as pageviews,
        sum(case when not is_bounce_rate_out_of_range then bounce_rate * sessions end) as bounced_sessions,
        sum(case when not is_bounce_rate_out_of_range then sessions end) as sessions_with_bounce_rate,
        sum(avg_session_duration_seconds * sessions) as total_session_seconds,
        sum(conversions) as conversions,
        sum(case when has_negative_revenue then null else revenue_amount end) as revenue_amount,
        sum(case when has_negative_revenue then 1 else 0 end) as negative_revenue_rows
    from pages
    group by report_date
),

final as (
    select
        report_date,
        pages_reported,
        sessions,
        users,
        new_users,
        pageviews,
        conversions,
        coalesce(revenue_amount, 0) as revenue_amount,
        negative_revenue_rows,
        bounced_sessions / nullif(sessions_with_bounce_rate, 0) as bounce_rate,
        total_session_seconds / nullif(sessions, 0) as avg_session_duration_seconds,
        pageviews / nullif(sessions, 0) as pageviews_per_session,
        conversions / nullif(sessions, 0) as conversion_rate
    from daily
)

select * from final
