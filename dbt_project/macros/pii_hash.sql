{#-
    Keyed hash of a PII value: sha2(key || value, 256), so gold can be shared while joins on
    the hash still work. The key is a secret: it reaches Spark as the session setting
    `elt.pii_hash_key` (set by `extract_load.dbt_runner`, or from DBT_ENV_SECRET_PII_HASH_KEY by
    the profile), and the SQL names only the setting, which Spark substitutes at run time. The key
    is therefore never in compiled SQL, manifest.json or the docs site. Null stays null.
-#}
{% macro pii_hash(column) -%}
    case
        when {{ column }} is null then null
        else sha2(concat('${elt.pii_hash_key}', cast({{ column }} as string)), 256)
    end
{%- endmacro %}

{#- Fails the run when the key has not reached Spark (the reference would hash with a known constant). -#}
{% macro assert_pii_hash_key() -%}
    select assert_true('${elt.pii_hash_key}' not like '$%{elt.pii_hash_key}%',
                       'elt.pii_hash_key is not set: run dbt through extract_load or set DBT_ENV_SECRET_PII_HASH_KEY')
{%- endmacro %}
