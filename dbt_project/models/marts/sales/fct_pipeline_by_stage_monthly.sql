with deals as (select * from {{ ref('fct_deals') }}),

final as (
    select
        close_month,
        coalesce(pipeline_id, 'unknown') as pipeline_id,
        coalesce(deal_stage, 'unknown') as deal_stage,
        count(*) as deals,
        sum(case when is_missing_amount then 1 else 0 end) as deals_missing_amount,
        sum(amount) as amount,
        sum(weighted_amount) as weighted_amount,
        avg(stage_probability) as avg_stage_probability
    from deals
    group by close_month, 2, 3
)

select * from final
