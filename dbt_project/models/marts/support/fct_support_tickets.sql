with tickets as (select * from {{ ref('stg_hubspot__tickets') }}),

sla_targets as (select * from {{ ref('ticket_sla_targets') }}),

ticket_contacts as (select * from {{ ref('stg_hubspot__tickets_to_contacts') }}),

ticket_companies as (select * from {{ ref('stg_hubspot__tickets_to_companies') }}),

first_contacts as (
    select ticket_id, min(contact_id) as contact_id
    from ticket_contacts
    group by ticket_id
),

first_companies as (
    select ticket_id, min(company_id) as company_id
    from ticket_companies
    group by ticket_id
),

measured as (
    select
        tickets.*,
        case
            when tickets.is_closed then tickets.resolution_hours
            else (unix_timestamp(current_timestamp()) - unix_timestamp(tickets.created_at)) / 3600.0
        end as age_or_resolution_hours
    from tickets
),

final as (
    select
        measured.ticket_id,
        first_contacts.contact_id,
        first_companies.company_id,
        coalesce(measured.priority, 'UNKNOWN') as priority,
        coalesce(measured.category, 'UNCATEGORIZED') as category,
        measured.ticket_status,
        measured.source_type,
        measured.is_closed,
        measured.created_at,
        cast(measured.created_at as date) as created_date,
        measured.closed_at,
        measured.resolution_hours,
        case when not measured.is_closed then measured.age_or_resolution_hours end as open_age_hours,
        sla_targets.first_response_target_hours,
        sla_targets.resolution_target_hours,
        coalesce(measured.age_or_resolution_hours > sla_targets.resolution_target_hours, false) as is_resolution_sla_breached,
        measured.has_negative_time_to_close
    from measured
    left join sla_targets on measured.priority = sla_targets.priority
    left join first_contacts on measured.ticket_id = first_contacts.ticket_id
    left join first_companies on measured.ticket_id = first_companies.ticket_id
)

select * from final
