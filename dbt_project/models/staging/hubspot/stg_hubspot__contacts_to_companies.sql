with source as (select * from {{ source('hubspot', 'contacts_to_companies') }}),

renamed as (
    select
        ---------- ids
        from_id as contact_id,
        to_id as company_id,
        cast(association_type_id as int) as association_type_id,
        ---------- strings
        association_category,
        association_label,
        ---------- timestamps
        _is_deleted,
        _loaded_at
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (
        partition by contact_id, company_id, association_type_id
        order by _loaded_at desc
    ) = 1
)

select * except (_is_deleted)
from deduplicated
where not coalesce(_is_deleted, false)
