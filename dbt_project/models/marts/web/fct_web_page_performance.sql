with pages as (select * from {{ ref('stg_redshift__web_analytics') }}),

latest_titles as (
    select
        page_path,
        page_title
    from pages
    qualify row_number() over (partition by page_path order by report_date desc) = 1
),

totals as (
    select
        page_path,
        min(report_date) as first_report_date,
        max(report_date) as last_report_date,
        sum(sessions) as sessions,
        sum(users) as users,
        sum(pageviews) as pageviews,
        sum(case when not is_bounce_rate_out_of_range then bounce_rate * sessions end) as bounced_sessions,
        sum(case when not is_bounce_rate_out_of_range then sessions end) as sessions_with_bounce_rate,
        sum(avg_session_duration_seconds * sessions) as total_session_seconds,
        sum(conversions) as conversions,
        sum(case when has_negative_revenue then null else revenue_amount end) as revenue_amount
    from pages
    group by page_path
),

final as (
    select
        totals.page_path,
        latest_titles.page_title,
        totals.first_report_date,
        totals.last_report_date,
        totals.sessions,
        totals.users,
        totals.pageviews,
        totals.conversions,
        coalesce(totals.revenue_amount, 0) as revenue_amount,
        totals.bounced_sessions / nullif(totals.sessions_with_bounce_rate, 0) as bounce_rate,
        totals.total_session_seconds / nullif(totals.sessions, 0) as avg_session_duration_seconds,
        totals.conversions / nullif(totals.sessions, 0) as conversion_rate,
        coalesce(totals.revenue_amount, 0) / nullif(totals.pageviews, 0) as revenue_per_pageview
    from totals
    inner join latest_titles on totals.page_path = latest_titles.page_path
)

select * from final
