with source as (select * from {{ source('hubspot', 'tickets') }}),

renamed as (
    select
        ---------- ids
        id as ticket_id,
        hs_pipeline as pipeline_id,
        hs_pipeline_stage as pipeline_stage_id,
        ---------- strings
        subject,
        content,
        upper(trim(hs_ticket_priority)) as priority,
        upper(trim(hs_ticket_category)) as category,
        hs_resolution as resolution,
        source_type,
        case hs_pipeline_stage
            when '1' then 'new'
            when '2' then 'waiting_on_contact'
            when '3' then 'waiting_on_us'
            when '4' then 'closed'
        end as ticket_status,
        ---------- numerics
        cast(time_to_close as bigint) as time_to_close_ms,
        coalesce(
            time_to_close / 3600000.0,
            (unix_timestamp(closed_date) - unix_timestamp(coalesce(createdate, created_at))) / 3600.0
        ) as resolution_hours,
        ---------- booleans
        hs_pipeline_stage = '4' or closed_date is not null as is_closed,
        nullif(trim(hs_ticket_priority), '') is null as is_missing_priority,
        coalesce(time_to_close < 0 or closed_date < coalesce(createdate, created_at), false) as has_negative_time_to_close,
        ---------- timestamps
        coalesce(createdate, created_at) as created_at,
        closed_date as closed_at,
        coalesce(hs_lastmodifieddate, updated_at) as last_modified_at,
        _is_deleted,
        _loaded_at
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (partition by ticket_id order by last_modified_at desc, _loaded_at desc) = 1
)

select * except (_is_deleted)
from deduplicated
where not coalesce(_is_deleted, false)
