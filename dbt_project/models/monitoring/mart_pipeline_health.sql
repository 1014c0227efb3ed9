{%- set runs_relation = source('ops', 'ingest_runs') -%}
{%- set runs_exist = execute and adapter.get_relation(database=runs_relation.database, schema=runs_relation.schema,
                                                        identifier=runs_relation.identifier) is not none %}

with runs as (
    {% if runs_exist or not execute -%}
    select * from {{ runs_relation }}
    {%- else -%}
    select
        cast(null as string) as run_id, cast(null as string) as load_id, cast(null as string) as source,
        cast(null as string) as object, cast(null as string) as status, cast(null as timestamp) as started_at,
        cast(null as double) as duration_s, cast(null as bigint) as rows_extracted,
        cast(null as bigint) as rows_inserted, cast(null as bigint) as rows_updated,
        cast(null as bigint) as rows_rejected, cast(null as bigint) as requests,
        cast(null as bigint) as responses_429, cast(null as double) as wait_seconds, cast(null as string) as error
    where false
    {%- endif %}
),

daily as (
    select
        source,
        object,
        to_date(started_at) as run_date,
        count(*) as runs,
        sum(case when status = 'success' then 1 else 0 end) as successful_runs,
        sum(case when status = 'empty' then 1 else 0 end) as empty_runs,
        sum(case when status = 'failed' then 1 else 0 end) as failed_runs,
        sum(rows_extracted) as rows_extracted,
        sum(rows_inserted) as rows_inserted,
        sum(rows_updated) as rows_updated,
        sum(rows_rejected) as rows_rejected,
        percentile_approx(case when status <> 'failed' then duration_s end, 0.5) as p50_duration_s,
        max(duration_s) as max_duration_s,
        sum(requests) as requests,
        sum(responses_429) as responses_429,
        sum(wait_seconds) as rate_limit_wait_s,
        max(started_at) as last_run_at,
        max(case when status <> 'failed' then started_at end) as last_success_at,
        max_by(load_id, started_at) as last_load_id,
        max_by(status, started_at) as last_status,
        max_by(error, case when status = 'failed' then started_at end) as last_error
    from runs
    group by source, object, to_date(started_at)
)

select
    source,
    object,
    run_date,
    runs,
    successful_runs,
    empty_runs,
    failed_runs,
    cast(successful_runs + empty_runs as double) / runs as success_rate,
    cast(failed_runs as double) / runs as error_rate,
    rows_extracted,
    rows_inserted,
    rows_updated,
    rows_rejected,
    p50_duration_s,
    max_duration_s,
    requests,
    responses_429,
    case when requests > 0 then cast(responses_429 as double) / requests end as rate_limited_share,
    rate_limit_wait_s,
    last_run_at,
    last_success_at,
    last_load_id,
    last_status,
    last_error
from daily
