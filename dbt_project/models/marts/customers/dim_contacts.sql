with contacts as (select * from {{ ref('stg_hubspot__contacts') }}),

final as (
    select
        contact_id,
        company_id,
        {{ pii_hash('email') }} as email_hash,
        {{ pii_hash('phone') }} as phone_hash,
        case when is_valid_email then substring_index(email, '@', -1) end as email_domain,
        coalesce(lifecycle_stage, 'unknown') as lifecycle_stage,
        job_title,
        city,
        country,
        analytics_source,
        utm_campaign,
        is_valid_email,
        is_missing_email,
        is_duplicate_email,
        created_at,
        cast(date_trunc('month', created_at) as date) as created_month,
        last_modified_at
    from contacts
)

select * from final
