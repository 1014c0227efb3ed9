{#-
    Fails with every row whose email is present but malformed; with `allow_missing: false`
    also with null or empty emails. Stored warning by default.
-#}
{% test valid_email(model, column_name, allow_missing=false) %}
    {{ config(severity='warn', store_failures=true) }}
    select *
    from {{ model }}
    where
    {%- if allow_missing %}
        nullif(trim({{ column_name }}), '') is not null and
    {%- else %}
        nullif(trim({{ column_name }}), '') is null or
    {%- endif %}
        not trim({{ column_name }}) rlike {{ email_pattern() }}
{% endtest %}
