{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['report_date', 'page_path'],
        on_schema_change='append_new_columns'
    )
}}

with source as (
    select * from {{ source('redshift', 'web_analytics') }}
    {% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp'1970-01-01') from {{ this }})
    {% endif %}
),

renamed as (
    select
        ---------- ids
        cast(date as date) as report_date,
        page_path,
        ---------- strings
        page_title,
        ---------- numerics
        cast(sessions as int) as sessions,
        cast(users as int) as users,
        cast(new_users as int) as new_users,
        cast(pageviews as int) as pageviews,
        cast(bounce_rate as decimal(6, 4)) as bounce_rate,
        cast(avg_session_duration as decimal(10, 2)) as avg_session_duration_seconds,
        cast(conversions as int) as conversions,
        cast(revenue as decimal(14, 2)) as revenue_amount,
        ---------- booleans
        coalesce(revenue < 0, false) as has_negative_revenue,
        coalesce(bounce_rate < 0 or bounce_rate > 1, false) as is_bounce_rate_out_of_range,
        ---------- timestamps
        cast(updated_at as timestamp) as updated_at,
        _loaded_at,
        _load_id
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (
        partition by report_date, page_path
        order by updated_at desc, _loaded_at desc
    ) = 1
)

select * from deduplicated
