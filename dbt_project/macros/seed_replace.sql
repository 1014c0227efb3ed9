{#-
    dbt-spark re-seeds by dropping the table and creating it again. Our seeds are external Delta
    tables (`location_root`), so the drop leaves the files and the new table picks up the old
    rows: every `dbt seed` would append the CSV again. `create or replace` swaps the table's
    content and schema in one Delta commit instead; other formats keep dbt-spark's behaviour.
-#}
{% macro spark__reset_csv_table(model, full_refresh, old_relation, agate_table) %}
    {% if old_relation and config.get('file_format', 'delta') != 'delta' %}
        {{ adapter.drop_relation(old_relation) }}
    {% endif %}
    {{ return(elt_create_csv_table(model, agate_table, replace=old_relation is not none)) }}
{% endmacro %}


{% macro elt_create_csv_table(model, agate_table, replace) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}
  {%- set delta = config.get('file_format', 'delta') == 'delta' -%}

  {% set sql %}
    create {{ 'or replace ' if replace and delta }}table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = column_override.get(col_name, inferred_type) -%}
            {{ adapter.quote_seed_column(col_name | string, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}

  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}

  {{ return(sql) }}
{% endmacro %}
