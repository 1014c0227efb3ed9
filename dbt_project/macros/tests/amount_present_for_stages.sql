{#-
    Fails with every row in one of `stages` (values of `stage_column`) whose amount column is
    null: a won deal or a sent contract must carry an amount. Stored warning by default.
-#}
{% test amount_present_for_stages(model, column_name, stage_column, stages) %}
    {{ config(severity='warn', store_failures=true) }}
    select *
    from {{ model }}
    where {{ stage_column }} in ('{{ stages | join("', '") }}')
        and {{ column_name }} is null
{% endtest %}
