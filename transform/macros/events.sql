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
        cast(null as {{ json_type() }}) as {{ adapter.quote('object') }},
        cast(null as {{ json_type() }}) as previous_object
      where 1 = 0
    )
  {%- else -%}
    {{ relation }}
  {%- endif -%}
{%- endmacro %}


{#
  The events of several tables as one relation: event_id, event_type, event_time, the payload
  `object`, `previous_payload` (the event's `previous_object`, where Auth0 sends it), `priority`, which orders events of the same entity stamped with the same time
  (a later step of a life cycle wins: created < updated < deleted), and `applied_at`, when a
  dbt run first saw the event (int_seen_events).
  A baseline table (baseline_users, ...: the tenant as the Management API answered, one record
  per entity or relation, `object` in the shape of the creation event's) reads as events of
  priority 0 (`<kind>.baseline`, stamped with the time it was read): at the same instant any
  event wins over it, and it has no previous_payload.
  `tables` is a list of (table name, priority) pairs. `seen_after`: only the events first seen
  after this SQL expression (an incremental run's watermark); none: all of them.
  Test events ("a0purpose": "test", as POST /api/v2/event-streams/{id}/test sends them, with
  sample content) are left out: they say nothing about the tenant. The raw tables keep them.
#}
{% macro union_events(tables, seen_after=none) -%}
  {#- DuckDB: the lowest load marker of the new events per table (macros/load_markers.sql). -#}
  {%- set floors = seen_marker_floors(tables | map(attribute=0) | list, seen_after) if seen_after is not none else {} -%}
  {%- for table_name, priority in tables %}
    select
      raw.event_id,
      raw.event_type,
      raw.event_time,
      raw.{{ adapter.quote('object') }} as payload,
      {%- if is_baseline_table(table_name) %}
      cast(null as {{ json_type() }}) as previous_payload,
      {%- else %}
      raw.previous_object as previous_payload,
      {%- endif %}
      {{ priority }} as priority,
      seen.seen_at as applied_at
    from {{ event_source(table_name) }} as raw
    inner join {{ ref('auth0_events__int_seen_events') }} as seen
      on seen.stream = '{{ table_name }}'
      and seen.event_id = raw.event_id
      {%- if seen_after is not none %}
      and seen.seen_at > {{ seen_after }}
      {%- endif %}
    where (raw.a0purpose is null or raw.a0purpose <> 'test')
    {%- if floors.get(table_name) == 'none' %}
      and 1 = 0
    {%- elif table_name in floors %}
      and raw.{{ load_marker() }} >= {{ floors[table_name] }}
    {%- endif %}
    {%- if not loop.last %}
    union all
    {%- endif %}
  {%- endfor %}
{%- endmacro %}


{# Every raw table the models read (int_seen_events records their event ids). #}
{% macro event_tables() -%}
  {{ return([
      'user_created', 'user_updated', 'user_deleted',
      'organization_created', 'organization_updated', 'organization_deleted',
      'organization_connection_added', 'organization_connection_updated', 'organization_connection_removed',
      'organization_member_added', 'organization_member_deleted',
      'organization_member_role_assigned', 'organization_member_role_deleted',
      'organization_group_role_assigned', 'organization_group_role_deleted',
      'group_created', 'group_updated', 'group_deleted',
      'group_member_added', 'group_member_deleted',
      'group_role_assigned', 'group_role_deleted',
      'connection_created', 'connection_updated', 'connection_deleted',
  ] + baseline_tables()) }}
{%- endmacro %}


{# The baseline streams' tables (the tap's baseline: docs/baseline.md), one per kind of history_kinds(),
   as its tables list them. #}
{% macro baseline_tables() -%}
  {{ return(baseline_kinds().keys() | list) }}
{%- endmacro %}


{# Each baseline table with the kind of history_kinds() whose records it holds, e.g.
   {'baseline_users': 'user', ...}. #}
{% macro baseline_kinds() -%}
  {%- set found = {} -%}
  {%- for kind, spec in history_kinds().items() -%}
    {%- for table_name, priority in spec['tables'] if is_baseline_table(table_name) -%}
      {%- do found.update({table_name: kind}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(found) }}
{%- endmacro %}


{% macro is_baseline_table(table_name) -%}
  {{ return(table_name.startswith('baseline_')) }}
{%- endmacro %}


{# The `baselines` table (one row per baseline stream whose read completed), or an empty relation of
   its shape when the loader has not created it (no baseline yet, or the stream is not selected). #}
{% macro baselines_source() -%}
  {%- set relation = source('auth0_events', 'baselines') -%}
  {%- if execute and load_relation(relation) is none -%}
    (
      select
        cast(null as {{ dbt.type_string() }}) as baseline_id,
        cast(null as {{ dbt.type_string() }}) as stream,
        cast(null as {{ dbt.type_timestamp() }}) as started_at,
        cast(null as {{ dbt.type_timestamp() }}) as completed_at,
        cast(null as bigint) as records
      where 1 = 0
    )
  {%- else -%}
    {{ relation }}
  {%- endif -%}
{%- endmacro %}
