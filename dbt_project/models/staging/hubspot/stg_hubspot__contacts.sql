with source as (select * from {{ source('hubspot', 'contacts') }}),

merged_away as (
    select distinct trim(merged_id) as contact_id
    from source
    lateral view explode(split(hs_merged_object_ids, ';')) merged as merged_id
    where nullif(trim(hs_merged_object_ids), '') is not null
        and not coalesce(_is_deleted, false)
),

renamed as (
    select
        ---------- ids
        id as contact_id,
        cast(cast(associatedcompanyid as bigint) as string) as company_id,
        ---------- strings
        lower(trim(nullif(trim(email), ''))) as email,
        nullif(trim(firstname), '') as first_name,
        nullif(trim(lastname), '') as last_name,
        nullif(trim(phone), '') as phone,
        nullif(trim(company), '') as company_name,
        lower(trim(lifecyclestage)) as lifecycle_stage,
        jobtitle as job_title,
        city,
        country,
        hs_analytics_source as analytics_source,
        nullif(trim(utm_campaign), '') as utm_campaign,
        hs_merged_object_ids as merged_contact_ids,
        ---------- booleans
        coalesce(trim(email) rlike {{ email_pattern() }}, false) as is_valid_email,
        nullif(trim(email), '') is null as is_missing_email,
        ---------- timestamps
        coalesce(createdate, created_at) as created_at,
        coalesce(hs_lastmodifieddate, lastmodifieddate, updated_at) as last_modified_at,
        _is_deleted,
        _loaded_at
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (partition by contact_id order by last_modified_at desc, _loaded_at desc) = 1
),

current_contacts as (
    select
        deduplicated.*,
        count(email) over (partition by email) > 1 as is_duplicate_email
    from deduplicated
    left anti join merged_away on deduplicated.contact_id = merged_away.contact_id
    where not coalesce(_is_deleted, false)
)

select * except (_is_deleted) from current_contacts
