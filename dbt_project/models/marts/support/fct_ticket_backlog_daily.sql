with tickets as (select * from {{ ref('fct_support_tickets') }}),

days as (
    select explode(sequence(
        (select min(created_date) from tickets),
        current_date(),
        interval 1 day
    )) as snapshot_date
),

final as (
    select
        days.snapshot_date,
        tickets.priority,
        sum(case when cast(tickets.created_at as date) = days.snapshot_date then 1 else 0 end) as opened_tickets,
        sum(case when cast(tickets.closed_at as date) = days.snapshot_date then 1 else 0 end) as closed_tickets,
        sum(
            case
                when cast(tickets.created_at as date) <= days.snapshot_date
                    and (tickets.closed_at is null or cast(tickets.closed_at as date) > days.snapshot_date)
                then 1 else 0
            end
        ) as open_backlog
    from days
    cross join tickets
    group by days.snapshot_date, tickets.priority
)

select * from final
