{{ stg_hubspot_association('tickets_to_companies', 'ticket_id', 'company_id') }}
