with source as (select * from {{ source('hubspot', 'companies') }}),

renamed as (
    select
        ---------- ids
        id as company_id,
        ---------- strings
        nullif(trim(name), '') as company_name,
        lower(trim(domain)) as domain,
        upper(trim(industry)) as industry,
        city,
        state,
        country,
        ---------- numerics
        cast(numberofemployees as bigint) as employee_count,
        cast(annualrevenue as decimal(18, 2)) as annual_revenue,
        ---------- booleans
        nullif(trim(name), '') is null as is_missing_name,
        nullif(trim(domain), '') is null as is_missing_domain,
        ---------- timestamps
        coalesce(createdate, created_at) as created_at,
        coalesce(hs_lastmodifieddate, updated_at) as last_modified_at,
        _is_deleted,
        _loaded_at
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (partition by company_id order by last_modified_at desc, _loaded_at desc) = 1
)

select * except (_is_deleted)
from deduplicated
where not coalesce(_is_deleted, false)
