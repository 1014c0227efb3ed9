{#-
    Fails with one row when the share of non-null (and, for strings, non-empty) values in the
    column is below `at_least`. Defaults to a stored warning: a dirty business field, not a
    broken key.
-#}
{% test not_null_proportion(model, column_name, at_least=0.99) %}
    {{ config(severity='warn', store_failures=true) }}
    with counted as (
        select
            count(*) as n_records,
            sum(case when {{ column_name }} is not null and trim(cast({{ column_name }} as string)) != '' then 1 else 0 end) as n_present
        from {{ model }}
    )
    select
        n_records,
        n_present,
        n_present / n_records as present_proportion,
        {{ at_least }} as at_least
    from counted
    where n_records > 0
        and n_present / n_records < {{ at_least }}
{% endtest %}
