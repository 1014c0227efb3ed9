with deals as (select * from {{ ref('fct_deals') }}),

deal_companies as (select * from {{ ref('stg_hubspot__deals_to_companies') }}),

companies as (select * from {{ ref('stg_hubspot__companies') }}),

company_deals as (
    select distinct
        deal_companies.company_id,
        deals.deal_id,
        deals.amount,
        deals.weighted_amount,
        deals.is_closed,
        deals.is_closed_won,
        deals.is_closed_lost
    from deal_companies
    inner join deals on deal_companies.deal_id = deals.deal_id
),

final as (
    select
        company_deals.company_id,
        companies.company_name,
        count(*) as deals,
        sum(case when not company_deals.is_closed then 1 else 0 end) as open_deals,
        sum(case when company_deals.is_closed_won then 1 else 0 end) as won_deals,
        sum(case when company_deals.is_closed_lost then 1 else 0 end) as lost_deals,
        coalesce(sum(case when company_deals.is_closed_won then company_deals.amount end), 0) as won_amount,
        coalesce(sum(case when not company_deals.is_closed then company_deals.weighted_amount end), 0) as weighted_pipeline_amount,
        sum(case when company_deals.is_closed_won then 1 else 0 end)
            / nullif(sum(case when company_deals.is_closed then 1 else 0 end), 0) as win_rate
    from company_deals
    left join companies on company_deals.company_id = companies.company_id
    group by company_deals.company_id, companies.company_name
)

select * from final
