with deals as (select * from {{ ref('stg_hubspot__deals') }}),

deal_companies as (select * from {{ ref('stg_hubspot__deals_to_companies') }}),

primary_companies as (
    select
        deal_id,
        company_id
    from deal_companies
    qualify row_number() over (
        partition by deal_id
        order by case when association_type_id = 5 then 0 else 1 end, company_id
    ) = 1
),

final as (
    select
        deals.deal_id,
        primary_companies.company_id,
        deals.deal_name,
        deals.pipeline_id,
        deals.deal_stage,
        deals.deal_type,
        deals.amount,
        deals.stage_probability,
        deals.amount * deals.stage_probability as weighted_amount,
        deals.is_closed,
        deals.is_closed_won,
        deals.is_closed and not deals.is_closed_won as is_closed_lost,
        deals.is_missing_amount,
        deals.is_missing_required_amount,
        deals.close_date,
        cast(date_trunc('month', deals.close_date) as date) as close_month,
        deals.created_at,
        cast(date_trunc('month', deals.created_at) as date) as created_month,
        deals.last_modified_at
    from deals
    left join primary_companies on deals.deal_id = primary_companies.deal_id
)

select * from final
