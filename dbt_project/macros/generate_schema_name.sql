{#-
    Layers map to fixed schemas: a folder's `+schema` (silver, gold, dq_failures) is used as is,
    without dbt's default `<target schema>_` prefix; anything else lands in the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
