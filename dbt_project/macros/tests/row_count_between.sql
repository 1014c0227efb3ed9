{#- Fails with one row when the model's row count is outside [min_count, max_count]. -#}
{% test row_count_between(model, min_count=1, max_count=none) %}
    with counted as (
        select count(*) as n_records from {{ model }}
    )
    select
        n_records,
        {{ min_count }} as min_count,
        {{ max_count if max_count is not none else 'cast(null as bigint)' }} as max_count
    from counted
    where n_records < {{ min_count }}
    {%- if max_count is not none %}
        or n_records > {{ max_count }}
    {%- endif %}
{% endtest %}
