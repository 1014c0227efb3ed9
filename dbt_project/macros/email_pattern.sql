{#- The one email regex: used by the staging flag `is_valid_email` and the `valid_email` test. -#}
{% macro email_pattern() -%}
    '^[A-Za-z0-9._%+\'-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$'
{%- endmacro %}
