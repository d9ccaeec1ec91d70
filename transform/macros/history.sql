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
          'tables': [('baseline_users', 0), ('user_created', 1), ('user_updated', 2), ('user_deleted', 3)],
          'keys': [('user_id', ['user_id'])],
          'updated_at': to_timestamp(json_text('payload', ['updated_at'])),
          'ends': 'user.deleted'},
      'organization': {
          'tables': [('baseline_organizations', 0), ('organization_created', 1), ('organization_updated', 2), ('organization_deleted', 3)],
          'keys': [('organization_id', ['id'])],
          'ends': 'organization.deleted', 'created_type': 'organization.created'},
      'group': {
          'tables': [('baseline_groups', 0), ('group_created', 1), ('group_updated', 2), ('group_deleted', 3)],
          'keys': [('group_id', ['id'])],
          'updated_at': group_updated_at,
          'ends': 'group.deleted'},
      'connection': {
          'tables': [('baseline_connections', 0), ('connection_created', 1), ('connection_updated', 2), ('connection_deleted', 3)],
          'keys': [('connection_id', ['id'])],
          'ends': 'connection.deleted', 'created_type': 'connection.created'},
      'organization_member': {
          'tables': [('baseline_organization_members', 0), ('organization_member_added', 1), ('organization_member_deleted', 2)],
          'keys': [('organization_id', ['organization', 'id']), ('user_id', ['user', 'user_id'])],
          'ends': 'organization.member.deleted', 'parents': [('organization', 1), ('user', 2)]},
      'organization_member_role': {
          'tables': [('baseline_organization_member_roles', 0), ('organization_member_role_assigned', 1), ('organization_member_role_deleted', 2)],
          'keys': [('organization_id', ['organization', 'id']), ('user_id', ['user', 'user_id']), ('role_id', ['role', 'id'])],
          'ends': 'organization.member.role.deleted', 'parents': [('organization', 1), ('user', 2)]},
      'organization_connection': {
          'tables': [('baseline_organization_connections', 0), ('organization_connection_added', 1), ('organization_connection_updated', 2),
                     ('organization_connection_removed', 3)],
          'keys': [('organization_id', ['organization', 'id']), ('connection_id', ['connection', 'id'])],
          'ends': 'organization.connection.removed', 'created_type': 'organization.connection.added',
          'parents': [('organization', 1), ('connection', 2)]},
      'group_member': {
          'tables': [('baseline_group_members', 0), ('group_member_added', 1), ('group_member_deleted', 2)],
          'keys': [('group_id', ['group', 'id']), ('member_id', ['member', 'id'])],
          'ends': 'group.member.deleted', 'parents': [('group', 1), ('user', 2), ('connection', 2)]},
      'group_role': {
          'tables': [('baseline_group_roles', 0), ('group_role_assigned', 1), ('group_role_deleted', 2)],
          'keys': [('group_id', ['group', 'id']), ('role_id', ['role', 'id'])],
          'ends': 'group.role.deleted', 'parents': [('group', 1)]},
      'organization_group_role': {
          'tables': [('baseline_organization_group_roles', 0), ('organization_group_role_assigned', 1), ('organization_group_role_deleted', 2)],
          'keys': [('organization_id', ['organization', 'id']), ('group_id', ['group', 'id']), ('role_id', ['role', 'id'])],
          'ends': 'organization.group.role.deleted', 'parents': [('organization', 1), ('group', 2)]},
  }) }}
{%- endmacro %}


{# The payload's updated_at that ranks events of one instant (`expression`; none: NULL), NULL for a
   baseline record (priority 0), which any event of its instant outranks. #}
{% macro ranking_updated_at(expression) -%}
  {%- if expression -%}
    case when priority = 0 then cast(null as {{ dbt.type_timestamp() }}) else {{ expression }} end
  {%- else -%}
    cast(null as {{ dbt.type_timestamp() }})
  {%- endif -%}
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
        {{ ranking_updated_at(spec.get('updated_at')) }} as object_updated_at,
        payload,
        previous_payload,
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


{# The valid_from of a life that began before the log: its first event is not its creation
   (an update, a deletion, a removal), so it existed when the log began. #}
{% macro auth0_events_before_log() -%}
  cast('0001-01-01 00:00:00' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#
  CTEs `touched` (incremental runs only: the keys of `kind` with events seen since the model's
  watermark, the keys whose parent (`parents` in history_kinds) has a deletion seen since then,
  plus `extra_touched`, a select of further key tuples) and `versions`: one row per version of
  each (touched) key, with the key columns, valid_from, valid_to, event_id, event_type,
  object_updated_at, payload, created_at (the time of the newest `created_type` event up to this
  version), ended_by_reconciliation (valid_to is a reconciliation's, below) and applied_at (the
  latest applied_at of the events behind the key's rows).

  Besides the key's own events, three more rows take part:
  - a life before the log, when the key's first event is not its creation: it begins at
    auth0_events_before_log(), with the payload of that event's `previous_object` (NULL where
    Auth0 sends none: the attributes are unknown), event_id that event's, event_type NULL;
  - the deletion of a parent (a user, organization, group or connection) at or after the key's first event
    ends the relation at that instant, as Auth0 removes it with its parent, whether or not an
    event of its own follows. After such an ending, or its own, only a creation begins a new
    life of a relation (a later update of something gone begins nothing);
  - reconciliation: a complete baseline stream of the kind (int_baselines) that holds no record
    of a key known before its started_at, with no event of the key and no parent's deletion
    during its read, ends the key's life at started_at (event_id 'rc_' || baseline_id, event_type
    '<kind>.reconciled', no payload; nothing is added to int_history_events).
  Ends with a comma-free CTE list, to be followed by more CTEs or a select.
#}
{% macro history_versions(kind, extra_touched=none) -%}
  {%- set kinds = history_kinds() -%}
  {%- set spec = kinds[kind] -%}
  {%- set parents = spec.get('parents', []) -%}
  {%- set key_names = spec['keys'] | map(attribute=0) | list -%}
  {%- set key_columns = [] -%}
  {%- for name in key_names %}{% do key_columns.append('key_' ~ loop.index ~ ' as ' ~ name) %}{% endfor -%}
  {%- set events = ref('auth0_events__int_history_events') -%}
  {%- set baselines = ref('auth0_events__int_baselines') -%}
  {%- set order = 'event_time, object_updated_at asc nulls first, priority, event_id' -%}
  {%- if is_incremental() %}
  {%- set watermark_at = watermark() %}
touched as (
    select distinct {{ key_columns | join(', ') }}
    from {{ events }}
    where kind = '{{ kind }}' and applied_at > {{ watermark_at }}
    {%- for parent, index in parents %}
    union
    select distinct {% for name in key_names %}child.key_{{ loop.index }} as {{ name }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ events }} as child
    where child.kind = '{{ kind }}'
      and exists (
          select 1 from {{ events }} as ending
          where ending.kind = '{{ parent }}' and ending.event_type = '{{ kinds[parent]['ends'] }}'
            and ending.applied_at > {{ watermark_at }} and ending.key_1 = child.key_{{ index }}
      )
    {%- endfor %}
    union
    -- Every key older than a baseline of its kind completed since then: it may close them.
    select distinct {% for name in key_names %}known.key_{{ loop.index }} as {{ name }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ events }} as known
    where known.kind = '{{ kind }}'
      and exists (
          select 1 from {{ baselines }} as baselines
          where baselines.kind = '{{ kind }}' and baselines.applied_at > {{ watermark_at }}
            and known.event_time <= baselines.started_at
      )
    {%- if extra_touched %}
    union
    {{ extra_touched }}
    {%- endif %}
),
  {%- endif %}

own_events as (
    select {{ key_columns | join(', ') }}, event_id, event_type, event_time, priority, object_updated_at, payload,
           previous_payload, applied_at
    from {{ events }} as events
    where kind = '{{ kind }}'
    {%- if is_incremental() %}
      and exists (
          select 1 from touched
          where {% for name in key_names %}touched.{{ name }} = events.key_{{ loop.index }}{{ ' and ' if not loop.last }}{% endfor %}
      )
    {%- endif %}
),

first_events as (
    select * from (
        select own_events.*, row_number() over (partition by {{ key_names | join(', ') }} order by {{ order }}) as event_number
        from own_events
    ) as numbered
    where event_number = 1
),

key_events as (
    select {{ key_names | join(', ') }}, event_id, event_type, event_time, priority, object_updated_at, payload, applied_at
    from own_events
    union all
    -- A life begun before the log (priority 0).
    select {{ key_names | join(', ') }}, event_id, cast(null as {{ dbt.type_string() }}) as event_type,
           {{ auth0_events_before_log() }} as event_time, 0 as priority,
           cast(null as {{ dbt.type_timestamp() }}) as object_updated_at, previous_payload as payload, applied_at
    from first_events
    where priority <> 1
    {%- for parent, index in parents %}
    union all
    -- Ended with its {{ parent }} (priority 9: after the key's own events of that instant).
    select {% for name in key_names %}first_events.{{ name }}, {% endfor -%}
           ending.event_id, ending.event_type, ending.event_time, 9 as priority,
           cast(null as {{ dbt.type_timestamp() }}) as object_updated_at, cast(null as {{ json_type() }}) as payload,
           ending.applied_at
    from first_events
    inner join {{ events }} as ending
        on ending.kind = '{{ parent }}'
        and ending.event_type = '{{ kinds[parent]['ends'] }}'
        and ending.key_1 = first_events.{{ key_names[index - 1] }}
        and ending.event_time >= first_events.event_time
    {%- endfor %}
    union all
    -- Closed by reconciliation (priority 8): a complete baseline of this kind holds no record of
    -- the key, which its own events or records name before the baseline began, and neither an
    -- event of its own nor a parent's deletion during the baseline's read explains it. Auth0's
    -- clock (the Date header) counts whole seconds: the read may have ended up to a second after
    -- completed_at.
    {%- set read_until = dbt.dateadd('second', 1, 'baselines.completed_at') %}
    select {% for name in key_names %}first_events.{{ name }}, {% endfor -%}
           {{ dbt.concat(["'rc_'", 'baselines.baseline_id']) }} as event_id,
           cast('{{ kind }}.reconciled' as {{ dbt.type_string() }}) as event_type, baselines.started_at as event_time,
           8 as priority, cast(null as {{ dbt.type_timestamp() }}) as object_updated_at,
           cast(null as {{ json_type() }}) as payload, baselines.applied_at
    from first_events
    inner join {{ baselines }} as baselines
        on baselines.kind = '{{ kind }}'
        and baselines.started_at >= first_events.event_time
    where not exists (
        select 1 from own_events as during
        where {{ same_key(key_names, 'during', 'first_events') }}
          and during.event_time >= baselines.started_at and during.event_time < {{ read_until }}
    )
    {%- for parent, index in parents %}
      and not exists (
        select 1 from {{ events }} as ending
        where ending.kind = '{{ parent }}' and ending.event_type = '{{ kinds[parent]['ends'] }}'
          and ending.key_1 = first_events.{{ key_names[index - 1] }}
          and ending.event_time >= baselines.started_at and ending.event_time < {{ read_until }}
      )
    {%- endfor %}
),

-- Beginnings (a creation, a life before the log) mark 1, endings 0, changes nothing.
life_marks as (
    select
        key_events.*,
        case
            when priority <= 1 then 1
            when priority >= 8 or event_type = '{{ spec['ends'] }}' then 0
        end as life_mark
    from key_events
),

life_numbers as (
    select
        life_marks.*,
        count(life_mark) over (
            partition by {{ key_names | join(', ') }} order by {{ order }} rows between unbounded preceding and current row
        ) as mark_number
    from life_marks
),

ordered as (
    select
        life_numbers.*,
        lead(event_time) over key_order as valid_to,
        lead(priority) over key_order as next_priority,
        -- Whether the key exists after the last beginning or ending up to this row.
        max(life_mark) over (partition by {{ key_names | join(', ') }}, mark_number) as alive,
        {%- if spec.get('created_type') %}
        max(case when event_type = '{{ spec['created_type'] }}' then event_time end) over (
            key_order rows between unbounded preceding and current row
        ) as created_at,
        {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as created_at,
        {%- endif %}
        max(applied_at) over (partition by {{ key_names | join(', ') }}) as key_applied_at
    from life_numbers
    window key_order as (
        partition by {{ key_names | join(', ') }}
        order by {{ order }}
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
        coalesce(next_priority = 8, false) as ended_by_reconciliation,
        key_applied_at as applied_at
    from ordered
    where life_mark is distinct from 0
      {%- if parents %}
      and coalesce(alive, 1) = 1
      {%- endif %}
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
