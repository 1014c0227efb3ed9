{#-
    Keyed hash of a PII value: sha2(key || value, 256). The key comes from ELT_PII_HASH_KEY; the
    dev default only suits local data. Null stays null, so a hash never stands for "missing".
-#}
{% macro pii_hash(column) -%}
    case
        when {{ column }} is null then null
        else sha2(concat('{{ env_var("ELT_PII_HASH_KEY", var("pii_hash_key_default")) }}', cast({{ column }} as string)), 256)
    end
{%- endmacro %}
