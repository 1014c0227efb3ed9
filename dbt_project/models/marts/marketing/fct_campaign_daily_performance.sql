with campaigns as (select * from {{ ref('stg_redshift__marketing_campaigns') }}),

daily as (
    select
        campaign_id,
        campaign_date,
        campaign_name,
        channel,
        campaign_status,
        currency_code,
        budget_amount,
        case when has_negative_spend then null else spend_amount end as spend_amount,
        impressions,
        clicks,
        conversions,
        conversion_value,
        has_negative_spend
    from campaigns
),

final as (
    select
        *,
        clicks / nullif(impressions, 0) as click_through_rate,
        spend_amount / nullif(clicks, 0) as cost_per_click,
        spend_amount / nullif(conversions, 0) as cost_per_acquisition,
        conversions / nullif(clicks, 0) as conversion_rate,
        spend_amount / nullif(budget_amount, 0) as budget_utilization,
        conversion_value / nullif(spend_amount, 0) as return_on_ad_spend
    from daily
)

select * from final
