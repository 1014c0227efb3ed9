with campaigns as (select * from {{ ref('stg_redshift__marketing_campaigns') }}),

latest_attributes as (
    select
        campaign_id,
        campaign_name,
        channel,
        campaign_status,
        currency_code
    from campaigns
    qualify row_number() over (
        partition by campaign_id
        order by case when campaign_name is null then 1 else 0 end, campaign_date desc
    ) = 1
),

totals as (
    select
        campaign_id,
        min(campaign_date) as first_active_date,
        max(campaign_date) as last_active_date,
        count(*) as active_days,
        sum(budget_amount) as budget_amount,
        sum(case when has_negative_spend then null else spend_amount end) as spend_amount,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(conversion_value) as conversion_value,
        sum(case when has_negative_spend then 1 else 0 end) as negative_spend_days
    from campaigns
    group by campaign_id
),

final as (
    select
        totals.campaign_id,
        latest_attributes.campaign_name,
        latest_attributes.channel,
        latest_attributes.campaign_status,
        latest_attributes.currency_code,
        totals.first_active_date,
        totals.last_active_date,
        totals.active_days,
        totals.budget_amount,
        totals.spend_amount,
        totals.impressions,
        totals.clicks,
        totals.conversions,
        totals.conversion_value,
        totals.negative_spend_days,
        totals.clicks / nullif(totals.impressions, 0) as click_through_rate,
        totals.spend_amount / nullif(totals.clicks, 0) as cost_per_click,
        totals.spend_amount / nullif(totals.conversions, 0) as cost_per_acquisition,
        totals.conversions / nullif(totals.clicks, 0) as conversion_rate,
        totals.spend_amount / nullif(totals.budget_amount, 0) as budget_utilization,
        totals.conversion_value / nullif(totals.spend_amount, 0) as return_on_ad_spend
    from totals
    inner join latest_attributes on totals.campaign_id = latest_attributes.campaign_id
)

select * from final
