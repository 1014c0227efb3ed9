with campaigns as (select * from {{ ref('fct_campaign_daily_performance') }}),

contacts as (select * from {{ ref('dim_contacts') }}),

deals as (select * from {{ ref('fct_deals') }}),

deal_contacts as (select * from {{ ref('stg_hubspot__deals_to_contacts') }}),

spend as (
    select
        campaign_id,
        cast(date_trunc('month', campaign_date) as date) as month,
        sum(spend_amount) as spend_amount,
        sum(clicks) as clicks,
        sum(conversions) as ad_conversions
    from campaigns
    group by 1, 2
),

attributed_contacts as (
    select
        utm_campaign as campaign_id,
        created_month as month,
        count(*) as new_contacts
    from contacts
    where utm_campaign is not null
    group by 1, 2
),

attributed_deals as (
    select distinct
        contacts.utm_campaign as campaign_id,
        deals.deal_id,
        deals.close_month as month,
        deals.amount
    from contacts
    inner join deal_contacts on contacts.contact_id = deal_contacts.contact_id
    inner join deals on deal_contacts.deal_id = deals.deal_id
    where contacts.utm_campaign is not null
        and deals.is_closed_won
        and deals.close_month is not null
),

won_revenue as (
    select
        campaign_id,
        month,
        count(*) as won_deals,
        sum(amount) as won_amount
    from attributed_deals
    group by 1, 2
),

campaign_months as (
    select campaign_id, month from spend
    union
    select campaign_id, month from attributed_contacts
    union
    select campaign_id, month from won_revenue
),

final as (
    select
        campaign_months.campaign_id,
        campaign_months.month,
        coalesce(spend.spend_amount, 0) as spend_amount,
        coalesce(spend.clicks, 0) as clicks,
        coalesce(spend.ad_conversions, 0) as ad_conversions,
        coalesce(attributed_contacts.new_contacts, 0) as new_contacts,
        coalesce(won_revenue.won_deals, 0) as won_deals,
        coalesce(won_revenue.won_amount, 0) as won_amount,
        spend.spend_amount / nullif(attributed_contacts.new_contacts, 0) as cost_per_contact,
        won_revenue.won_amount / nullif(spend.spend_amount, 0) as return_on_ad_spend
    from campaign_months
    left join spend
        on campaign_months.campaign_id = spend.campaign_id and campaign_months.month = spend.month
    left join attributed_contacts
        on campaign_months.campaign_id = attributed_contacts.campaign_id and campaign_months.month = attributed_contacts.month
    left join won_revenue
        on campaign_months.campaign_id = won_revenue.campaign_id and campaign_months.month = won_revenue.month
)

select * from final
