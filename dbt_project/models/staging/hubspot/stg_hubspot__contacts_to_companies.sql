{{ stg_hubspot_association('contacts_to_companies', 'contact_id', 'company_id') }}
