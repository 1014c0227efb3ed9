{#- Fails with every row whose value is below zero (nulls pass). Stored warning by default. -#}
{% test non_negative(model, column_name) %}
    {{ config(severity='warn', store_failures=true) }}
    select *
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
