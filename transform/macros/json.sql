{#-
  The few engine-specific bits: reading a value out of the JSON columns the loaders write
  (target-duckdb: json, target-postgres: jsonb). `path` is a list of keys, e.g.
  ['organization', 'id'] for object.organization.id.
-#}

{# The value at `path` as text (NULL when absent). #}
{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text', 'auth0_events')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
  ({{ column }} #>> '{ {{- path | join(',') -}} }')
{%- endmacro %}

{% macro duckdb__json_text(column, path) -%}
  json_extract_string({{ column }}, '$.{{ path | join('.') }}')
{%- endmacro %}


{# The value at `path` as JSON (an object or array stays JSON). #}
{% macro json_value(column, path) -%}
  {{ return(adapter.dispatch('json_value', 'auth0_events')(column, path)) }}
{%- endmacro %}

{% macro default__json_value(column, path) -%}
  ({{ column }} #> '{ {{- path | join(',') -}} }')
{%- endmacro %}

{% macro duckdb__json_value(column, path) -%}
  json_extract({{ column }}, '$.{{ path | join('.') }}')
{%- endmacro %}


{# The type the loader gives JSON columns. #}
{% macro json_type() -%}
  {{ return(adapter.dispatch('json_type', 'auth0_events')()) }}
{%- endmacro %}

{% macro default__json_type() -%}jsonb{%- endmacro %}

{% macro duckdb__json_type() -%}json{%- endmacro %}


{# An ISO 8601 text value (e.g. 2026-01-01T00:00:00.000Z) as a UTC timestamp without time zone,
   like the loaders store event_time. #}
{% macro to_timestamp(expression) -%}
  cast({{ expression }} as {{ dbt.type_timestamp() }})
{%- endmacro %}
