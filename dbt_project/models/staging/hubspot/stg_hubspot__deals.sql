with source as (select * from {{ source('hubspot', 'deals') }}),

renamed as (
    select
        ---------- ids
        id as deal_id,
        pipeline as pipeline_id,
        ---------- strings
        nullif(trim(dealname), '') as deal_name,
        lower(trim(dealstage)) as deal_stage,
        dealtype as deal_type,
        ---------- numerics
        cast(amount as decimal(18, 2)) as amount,
        cast(hs_deal_stage_probability as double) as stage_probability,
        ---------- booleans
        coalesce(hs_is_closed, lower(trim(dealstage)) in ('closedwon', 'closedlost')) as is_closed,
        coalesce(hs_is_closed_won, lower(trim(dealstage)) = 'closedwon') as is_closed_won,
        amount is null as is_missing_amount,
        amount is null and lower(trim(dealstage)) in ('closedwon', 'contractsent') as is_missing_required_amount,
        coalesce(amount < 0, false) as has_negative_amount,
        coalesce(hs_deal_stage_probability not between 0 and 1, false) as is_stage_probability_out_of_range,
        ---------- timestamps
        cast(closedate as date) as close_date,
        coalesce(createdate, created_at) as created_at,
        coalesce(hs_lastmodifieddate, updated_at) as last_modified_at,
        _is_deleted,
        _loaded_at
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (partition by deal_id order by last_modified_at desc, _loaded_at desc) = 1
)

select * except (_is_deleted)
from deduplicated
where not coalesce(_is_deleted, false)
