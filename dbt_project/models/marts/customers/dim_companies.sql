with companies as (select * from {{ ref('stg_hubspot__companies') }}),

contact_companies as (select * from {{ ref('stg_hubspot__contacts_to_companies') }}),

contacts_per_company as (
    select
        company_id,
        count(distinct contact_id) as contacts
    from contact_companies
    group by company_id
),

final as (
    select
        companies.company_id,
        companies.company_name,
        companies.domain,
        coalesce(companies.industry, 'UNKNOWN') as industry,
        companies.city,
        coalesce(companies.state, 'unknown') as state,
        coalesce(companies.country, 'unknown') as country,
        concat_ws(' / ', coalesce(companies.country, 'unknown'), coalesce(companies.state, 'unknown')) as territory,
        companies.employee_count,
        companies.annual_revenue,
        coalesce(contacts_per_company.contacts, 0) as contacts,
        companies.created_at,
        companies.last_modified_at
    from companies
    left join contacts_per_company on companies.company_id = contacts_per_company.company_id
)

select * from final
