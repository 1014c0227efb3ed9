{#-
    The one shape of every HubSpot association staging model: ids renamed for the two objects,
    the latest version per (from, to, type), links HubSpot no longer returns (_is_deleted) removed.
-#}
{% macro stg_hubspot_association(association, from_column, to_column) -%}
with source as (select * from {{ source('hubspot', association) }}),

renamed as (
    select
        ---------- ids
        from_id as {{ from_column }},
        to_id as {{ to_column }},
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
        partition by {{ from_column }}, {{ to_column }}, association_type_id
        order by _loaded_at desc
    ) = 1
)

select * except (_is_deleted)
from deduplicated
where not coalesce(_is_deleted, false)
{%- endmacro %}
