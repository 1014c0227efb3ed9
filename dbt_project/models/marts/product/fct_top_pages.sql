with page_views as (
    select * from {{ ref('stg_redshift__customer_behavior') }}
    where event_name = 'page_view'
),

pages as (
    select
        page_path,
        count(*) as page_views,
        count(distinct user_id) as unique_users,
        count(distinct device_id, session_id) as sessions,
        min(event_date) as first_viewed_date,
        max(event_date) as last_viewed_date
    from page_views
    group by page_path
),

final as (
    select
        page_path,
        page_views,
        unique_users,
        sessions,
        first_viewed_date,
        last_viewed_date,
        row_number() over (order by page_views desc, page_path) as page_rank
    from pages
)

select * from final
