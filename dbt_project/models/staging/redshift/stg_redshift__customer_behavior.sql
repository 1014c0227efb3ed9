{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='event_id',
        partition_by=['event_date'],
        on_schema_change='append_new_columns'
    )
}}

with source as (
    select * from {{ source('redshift', 'customer_behavior') }}
    {% if is_incremental() %}
    where _loaded_at > (select coalesce(max(_loaded_at), timestamp'1970-01-01') from {{ this }})
    {% endif %}
),

renamed as (
    select
        ---------- ids
        event_id,
        nullif(trim(user_id), '') as user_id,
        device_id,
        cast(session_id as bigint) as session_id,
        ---------- strings
        lower(trim(event_name)) as event_name,
        page_url,
        coalesce(parse_url(page_url, 'PATH'), page_url) as page_path,
        lower(trim(device_type)) as device_type,
        lower(trim(platform)) as platform,
        country,
        city,
        event_properties,
        ---------- numerics
        cast(revenue as decimal(12, 2)) as revenue_amount,
        ---------- booleans
        nullif(trim(user_id), '') is null as is_missing_user_id,
        coalesce(revenue < 0, false) as has_negative_revenue,
        ---------- timestamps
        cast(event_timestamp as timestamp) as event_at,
        cast(server_received_at as timestamp) as server_received_at,
        cast(event_date as date) as event_date,
        _loaded_at,
        _load_id
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (partition by event_id order by _loaded_at desc, server_received_at desc) = 1
)

select * from deduplicated
