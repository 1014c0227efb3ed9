{{ stg_hubspot_association('tickets_to_contacts', 'ticket_id', 'contact_id') }}
