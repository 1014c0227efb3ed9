with source as (select * from {{ source('redshift', 'marketing_campaigns') }}),

renamed as (
    select
        ---------- ids
        campaign_id,
        cast(date as date) as campaign_date,
        ---------- strings
        nullif(trim(campaign_name), '') as campaign_name,
        lower(trim(channel)) as channel,
        upper(trim(status)) as campaign_status,
        upper(trim(currency)) as currency_code,
        ---------- numerics
        cast(budget as decimal(12, 2)) as budget_amount,
        cast(spend as decimal(12, 2)) as spend_amount,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        cast(conversions as int) as conversions,
        cast(conversion_value as decimal(14, 2)) as conversion_value,
        ---------- booleans
        spend < 0 as has_negative_spend,
        nullif(trim(campaign_name), '') is null as is_missing_campaign_name,
        clicks > impressions as has_clicks_above_impressions,
        ---------- timestamps
        cast(created_at as timestamp) as created_at,
        cast(updated_at as timestamp) as updated_at,
        _loaded_at,
        _load_id
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (
        partition by campaign_id, campaign_date
        order by updated_at desc, _loaded_at desc
    ) = 1
)

select * from deduplicated
