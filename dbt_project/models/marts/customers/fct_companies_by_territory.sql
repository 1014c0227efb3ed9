with companies as (select * from {{ ref('dim_companies') }}),

final as (
    select
        country,
        state,
        industry,
        count(*) as companies,
        sum(employee_count) as employees,
        sum(annual_revenue) as annual_revenue,
        sum(contacts) as contacts,
        avg(employee_count) as avg_employee_count
    from companies
    group by country, state, industry
)

select * from final
