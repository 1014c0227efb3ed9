{{ stg_hubspot_association('deals_to_companies', 'deal_id', 'company_id') }}
