{%- set results_relation = source('ops', 'dq_results') -%}
{%- set results_exist = execute and adapter.get_relation(database=results_relation.database,
                                                           schema=results_relation.schema,
                                                           identifier=results_relation.identifier) is not none %}

with results as (
    {% if results_exist or not execute -%}
    select * from {{ results_relation }}
    {%- else -%}
    select
        cast(null as string) as invocation_id, cast(null as timestamp) as generated_at,
        cast(null as string) as table_name, cast(null as string) as test_name, cast(null as string) as rule,
        cast(null as string) as severity, cast(null as string) as status, cast(null as bigint) as failures
    where false
    {%- endif %}
),

daily as (
    select
        coalesce(table_name, '') as table_name,
        to_date(generated_at) as run_date,
        count(*) as checks,
        count(distinct invocation_id) as dbt_invocations,
        sum(case when status in ('pass', 'success') then 1 else 0 end) as passed,
        sum(case when status = 'warn' then 1 else 0 end) as warned,
        sum(case when status in ('fail', 'error', 'runtime error') then 1 else 0 end) as failed,
        sum(coalesce(failures, 0)) as failing_rows,
        max(generated_at) as last_checked_at,
        array_join(array_sort(collect_set(case when status in ('fail', 'error', 'runtime error') then test_name end)),
                   ', ') as failed_checks,
        array_join(array_sort(collect_set(case when status = 'warn' then test_name end)), ', ') as warned_checks
    from results
    group by coalesce(table_name, ''), to_date(generated_at)
)

select
    table_name,
    run_date,
    checks,
    dbt_invocations,
    passed,
    warned,
    failed,
    cast(passed as double) / checks as pass_rate,
    failing_rows,
    last_checked_at,
    failed_checks,
    warned_checks
from daily
