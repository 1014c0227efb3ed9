with tickets as (select * from {{ ref('fct_support_tickets') }}),

final as (
    select
        priority,
        category,
        count(*) as tickets,
        sum(case when is_closed then 1 else 0 end) as closed_tickets,
        sum(case when not is_closed then 1 else 0 end) as open_tickets,
        avg(case when is_closed then resolution_hours end) as avg_resolution_hours,
        percentile_approx(case when is_closed then resolution_hours end, 0.5) as median_resolution_hours,
        sum(case when is_resolution_sla_breached then 1 else 0 end) as sla_breaches,
        sum(case when is_resolution_sla_breached and not is_closed then 1 else 0 end) as open_sla_breaches,
        sum(case when is_resolution_sla_breached then 1 else 0 end) / count(*) as sla_breach_rate
    from tickets
    group by priority, category
)

select * from final
