{{ stg_hubspot_association('deals_to_contacts', 'deal_id', 'contact_id') }}
