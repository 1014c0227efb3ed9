with events as (select * from {{ ref('stg_redshift__customer_behavior') }}),

final as (
    select
        event_date as activity_date,
        coalesce(device_type, 'unknown') as device_type,
        coalesce(platform, 'unknown') as platform,
        count(distinct user_id) as users,
        count(distinct device_id) as devices,
        count(distinct device_id, session_id) as sessions,
        count(*) as events,
        sum(case when event_name = 'purchase' then 1 else 0 end) as purchases,
        count(*) / sum(count(*)) over (partition by event_date) as share_of_day_events
    from events
    group by 1, 2, 3
)

select * from final
