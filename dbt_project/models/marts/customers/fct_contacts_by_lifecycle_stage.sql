with contacts as (select * from {{ ref('dim_contacts') }}),

final as (
    select
        lifecycle_stage,
        count(*) as contacts,
        sum(case when is_valid_email then 1 else 0 end) as contacts_with_valid_email,
        sum(case when utm_campaign is not null then 1 else 0 end) as paid_contacts,
        sum(case when company_id is not null then 1 else 0 end) as contacts_with_company,
        count(*) / sum(count(*)) over () as share_of_contacts,
        min(created_at) as first_created_at,
        max(created_at) as last_created_at
    from contacts
    group by lifecycle_stage
)

select * from final
