with deals as (select * from {{ ref('fct_deals') }}),

monthly as (
    select
        close_month,
        count(*) as deals,
        sum(case when is_closed_won then 1 else 0 end) as won_deals,
        sum(case when is_closed_lost then 1 else 0 end) as lost_deals,
        sum(case when not is_closed then 1 else 0 end) as open_deals,
        sum(case when is_closed_won then amount end) as won_amount,
        sum(case when not is_closed then amount end) as open_pipeline_amount,
        sum(case when not is_closed then weighted_amount end) as weighted_pipeline_amount
    from deals
    group by close_month
),

final as (
    select
        close_month,
        deals,
        won_deals,
        lost_deals,
        open_deals,
        coalesce(won_amount, 0) as won_amount,
        coalesce(open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(weighted_pipeline_amount, 0) as weighted_pipeline_amount,
        coalesce(won_amount, 0) + coalesce(weighted_pipeline_amount, 0) as forecast_amount,
        won_deals / nullif(won_deals + lost_deals, 0) as win_rate
    from monthly
)

select * from final
