{#-
  Reading the raw event tables (one per event type, written by the loader).
-#}

{#
  The raw table of one event type, or an empty relation of the same shape when the loader has
  not created it (no event of that type yet, or the stream is not selected), so the models
  build on any subset of streams.
#}
{% macro event_source(table_name) -%}
  {%- set relation = source('auth0_events', table_name) -%}
  {%- if execute and load_relation(relation) is none -%}
    (
      select
        cast(null as {{ dbt.type_string() }}) as event_id,
        cast(null as {{ dbt.type_string() }}) as event_type,
        cast(null as {{ dbt.type_timestamp() }}) as event_time,
        cast(null as {{ dbt.type_string() }}) as a0purpose,
        cast(null as {{ json_type() }}) as {{ adapter.quote('object') }}
      where 1 = 0
    )
  {%- else -%}
    {{ relation }}
  {%- endif -%}
{%- endmacro %}


{#
  The events of several tables as one relation: event_id, event_type, event_time, the payload
  `object`, and `priority`, which orders events of the same entity stamped with the same time
  (a later step of a life cycle wins: created < updated < deleted).
  `tables` is a list of (table name, priority) pairs.
  Test events ("a0purpose": "test", as POST /api/v2/event-streams/{id}/test sends them, with
  sample content) are left out: they say nothing about the tenant. The raw tables keep them.
#}
{% macro union_events(tables) -%}
  {%- for table_name, priority in tables %}
    select
      event_id,
      event_type,
      event_time,
      {{ adapter.quote('object') }} as payload,
      {{ priority }} as priority
    from {{ event_source(table_name) }}
    where a0purpose is null or a0purpose <> 'test'
    {%- if not loop.last %}
    union all
    {%- endif %}
  {%- endfor %}
{%- endmacro %}
