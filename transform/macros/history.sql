{#-
  The history (type-2) models: every version of every entity and relation.

  int_history_events keeps every event the models read, with its key taken out of the payload
  once (`kind`, key_1..key_3). A *_history model orders the events of each key exactly as
  newest_events does (event_time, then the payload's updated_at, NULL first, then the life-cycle
  step, then event_id) and makes each event that is not an ending (a deletion or removal) the
  start of a version, valid until the key's next event: [valid_from, valid_to), valid_to NULL
  while it is in effect. An ending event starts nothing, so no row covers the time after it.
  A version whose next event has the same event_time would be valid over [t, t), an empty
  interval: it is left out, so at any instant exactly the last event of that instant counts, as
  in the current_* models.

  Incremental: a run recomputes the whole history of each key that one of the events seen since
  its last run touches (read from int_history_events, by key), and replaces that key's rows
  (`replace_keys`, with a row marked is_gone for a key left with no version).
-#}


{#
  The entities and relations with a history: their kind, raw tables (with the life-cycle step
  that orders events of one instant), key columns (name, JSON path), the payload's updated_at
  where it ranks events, the event type that ends a version, and the event type whose time is
  `created_at` (entities whose payload carries no creation time).
#}
{% macro history_kinds() -%}
  {%- set group_updated_at = 'coalesce(' ~ to_timestamp(json_text('payload', ['updated_at'])) ~ ', '
                             ~ to_timestamp(json_text('payload', ['created_at'])) ~ ')' -%}
  {{ return({
      'user': {
          'tables': [('user_created', 1), ('user_updated', 2), ('user_deleted', 3)],
          'keys': [('user_id', ['user_id'])],
          'updated_at': to_timestamp(json_text('payload', ['updated_at'])),
          'ends': 'user.deleted'},
      'organization': {
          'tables': [('organization_created', 1), ('organization_updated', 2), ('organization_deleted', 3)],
          'keys': [('organization_id', ['id'])],
          'ends': 'organization.deleted', 'created_type': 'organization.created'},
      'group': {
          'tables': [('group_created', 1), ('group_updated', 2), ('group_deleted', 3)],
          'keys': [('group_id', ['id'])],
          'updated_at': group_updated_at,
          'ends': 'group.deleted'},
      'connection': {
          'tables': [('connection_created', 1), ('connection_updated', 2), ('connection_deleted', 3)],
          'keys': [('connection_id', ['id'])],
          'ends': 'connection.deleted', 'created_type': 'connection.created'},
      'organization_member': {
          'tables': [('organization_member_added', 1), ('organization_member_deleted', 2)],
          'keys': [('organization_id', ['organization', 'id']), ('user_id', ['user', 'user_id'])],
          'ends': 'organization.member.deleted'},
      'organization_member_role': {
          'tables': [('organization_member_role_assigned', 1), ('organization_member_role_deleted', 2)],
          'keys': [('organization_id', ['organization', 'id']), ('user_id', ['user', 'user_id']), ('role_id', ['role', 'id'])],
          'ends': 'organization.member.role.deleted'},
      'organization_connection': {
          'tables': [('organization_connection_added', 1), ('organization_connection_updated', 2),
                     ('organization_connection_removed', 3)],
          'keys': [('organization_id', ['organization', 'id']), ('connection_id', ['connection', 'id'])],
          'ends': 'organization.connection.removed', 'created_type': 'organization.connection.added'},
      'group_member': {
          'tables': [('group_member_added', 1), ('group_member_deleted', 2)],
          'keys': [('group_id', ['group', 'id']), ('member_id', ['member', 'id'])],
          'ends': 'group.member.deleted'},
      'group_role': {
          'tables': [('group_role_assigned', 1), ('group_role_deleted', 2)],
          'keys': [('group_id', ['group', 'id']), ('role_id', ['role', 'id'])],
          'ends': 'group.role.deleted'},
      'organization_group_role': {
          'tables': [('organization_group_role_assigned', 1), ('organization_group_role_deleted', 2)],
          'keys': [('organization_id', ['organization', 'id']), ('group_id', ['group', 'id']), ('role_id', ['role', 'id'])],
          'ends': 'organization.group.role.deleted'},
  }) }}
{%- endmacro %}


{# The events of every kind seen after `seen_after` (none: all), keyed (int_history_events). #}
{% macro keyed_events(seen_after=none) -%}
  {%- for kind, spec in history_kinds().items() %}
    {%- set keys = spec['keys'] %}
    select
        cast('{{ kind }}' as {{ dbt.type_string() }}) as kind,
        {%- for index in range(3) %}
        {%- if index < keys | length %}
        {{ json_text('payload', keys[index][1]) }} as key_{{ index + 1 }},
        {%- else %}
        cast(null as {{ dbt.type_string() }}) as key_{{ index + 1 }},
        {%- endif %}
        {%- endfor %}
        event_id,
        event_type,
        event_time,
        priority,
        {{ spec.get('updated_at') or 'cast(null as ' ~ dbt.type_timestamp() ~ ')' }} as object_updated_at,
        payload,
        applied_at
    from ({{ union_events(spec['tables'], seen_after=seen_after) }}) as events
    where {% for name, path in keys %}{{ json_text('payload', path) }} is not null{{ ' and ' if not loop.last }}{% endfor %}
    {%- if not loop.last %}
    union all
    {%- endif %}
  {%- endfor %}
{%- endmacro %}


{# Join condition on the first `count` key columns of two relations. #}
{% macro same_key(key_names, left, right) -%}
  {%- for name in key_names %}{{ left }}.{{ name }} = {{ right }}.{{ name }}{{ ' and ' if not loop.last }}{% endfor %}
{%- endmacro %}


{#
  CTEs `touched` (incremental runs only: the keys of `kind` with events seen since the model's
  watermark, plus `extra_touched`, a select of further key tuples) and `versions`: one row per
  version of each (touched) key, with the key columns, valid_from, valid_to, event_id,
  event_type, object_updated_at, payload, created_at (the time of the newest `created_type`
  event up to this version) and applied_at (the latest applied_at of the key's events).
  Ends with a comma-free CTE list, to be followed by more CTEs or a select.
#}
{% macro history_versions(kind, extra_touched=none) -%}
  {%- set spec = history_kinds()[kind] -%}
  {%- set key_names = spec['keys'] | map(attribute=0) | list -%}
  {%- set key_columns = [] -%}
  {%- for name in key_names %}{% do key_columns.append('key_' ~ loop.index ~ ' as ' ~ name) %}{% endfor -%}
  {%- if is_incremental() %}
touched as (
    select distinct {{ key_columns | join(', ') }}
    from {{ ref('auth0_events__int_history_events') }}
    where kind = '{{ kind }}' and applied_at > {{ watermark() }}
    {%- if extra_touched %}
    union
    {{ extra_touched }}
    {%- endif %}
),
  {%- endif %}

key_events as (
    select {{ key_columns | join(', ') }}, event_id, event_type, event_time, priority, object_updated_at, payload, applied_at
    from {{ ref('auth0_events__int_history_events') }} as events
    where kind = '{{ kind }}'
    {%- if is_incremental() %}
      and exists (
          select 1 from touched
          where {% for name in key_names %}touched.{{ name }} = events.key_{{ loop.index }}{{ ' and ' if not loop.last }}{% endfor %}
      )
    {%- endif %}
),

ordered as (
    select
        key_events.*,
        lead(event_time) over key_order as valid_to,
        {%- if spec.get('created_type') %}
        max(case when event_type = '{{ spec['created_type'] }}' then event_time end) over (
            key_order rows between unbounded preceding and current row
        ) as created_at,
        {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as created_at,
        {%- endif %}
        max(applied_at) over (partition by {{ key_names | join(', ') }}) as key_applied_at
    from key_events
    window key_order as (
        partition by {{ key_names | join(', ') }}
        order by event_time, object_updated_at asc nulls first, priority, event_id
    )
),

versions as (
    select
        {{ key_names | join(', ') }},
        event_time as valid_from,
        valid_to,
        event_id,
        event_type,
        object_updated_at,
        payload,
        created_at,
        key_applied_at as applied_at
    from ordered
    where event_type <> '{{ spec['ends'] }}'
      and (valid_to is null or valid_to > event_time)
)
{%- endmacro %}


{#
  The last select of a history model: `columns` (SQL over `versions`-shaped relation `rows`)
  for each version; in an incremental run also one row per touched key left with no version,
  marked is_gone (the replace_keys strategy deletes the key's old rows and inserts nothing).
  `rows`: the CTE holding the versions (default `versions`).
#}
{% macro history_rows(key_names, columns, rows='versions') -%}
  {%- if is_incremental() %}
select
    {%- for name in key_names %}
    touched.{{ name }},
    {%- endfor %}
    {{ columns }},
    {{ rows }}.event_id is null as is_gone
from touched
left join {{ rows }}
    on {{ same_key(key_names, 'touched', rows) }}
  {%- else %}
select
    {%- for name in key_names %}
    {{ rows }}.{{ name }},
    {%- endfor %}
    {{ columns }}
from {{ rows }}
  {%- endif %}
{%- endmacro %}


{# PostgreSQL indexes of a history model: its key (not unique: one row per version), applied_at,
   and valid_from / valid_to (the daily models read the versions starting or ending since a day). #}
{% macro history_indexes(keys) -%}
  {%- if target.type == 'postgres' -%}
    {{ return([{'columns': keys}, {'columns': ['applied_at']}, {'columns': ['valid_from']}, {'columns': ['valid_to']}]) }}
  {%- else -%}
    {{ return([]) }}
  {%- endif -%}
{%- endmacro %}


{#
  The point-in-time filter: the versions of a *_history model in effect at `at` (a timestamp
  expression or a 'YYYY-MM-DD[ HH:MM:SS]' literal, UTC), e.g.
    select * from {{ ref('auth0_events__users_history') }} where {{ auth0_events_as_of("'2026-03-01'") }}
  `relation`: a table alias to qualify the columns with, when several histories are joined.
#}
{% macro auth0_events_as_of(at, relation=none) -%}
  {%- set prefix = relation ~ '.' if relation else '' -%}
  ({{ prefix }}valid_from <= cast({{ at }} as {{ dbt.type_timestamp() }})
   and ({{ prefix }}valid_to is null or {{ prefix }}valid_to > cast({{ at }} as {{ dbt.type_timestamp() }})))
{%- endmacro %}
