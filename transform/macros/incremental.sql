{#-
  How the models update incrementally.

  int_seen_events records every event id the models read, with the start time of the dbt run
  that first saw it. Every other model carries `applied_at`: the latest such time of any event
  that bears on the row. A run reads only what was seen after the newest `applied_at` the
  model already holds (its watermark): the events loaded since its last run. That is exact
  whatever the loader does meanwhile: an event committed after int_seen_events looked is seen
  by the next run. Re-reading an event already applied changes nothing, so a watermark that
  falls back (its row was deleted) only costs a little re-reading.

  Two layers:
  - int_* keep, per entity or relation, the newest event (deletions included, so a late older
    event still loses to them): the new events plus the stored row of each key they touch are
    ranked exactly as a full rebuild ranks all events (newest_events below);
  - current_* recompute the rows whose inputs changed and replace them, dropping those that no
    longer exist (the `replace_keys` strategy below).
  `dbt run --full-refresh` rebuilds everything from the whole history (and applies it all at
  that run's time).
-#}


{# The start of this dbt run (UTC), as a timestamp: the time of what it sees and applies. #}
{% macro run_started() -%}
  cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}


{#
  The model's watermark: the newest applied_at it holds (long ago when it holds nothing), read
  when the model is compiled and written as a literal. A literal, unlike the subquery it
  replaces, lets DuckDB skip row groups by their min/max and gives PostgreSQL's planner the
  real selectivity of `applied_at > ...`, so an index on applied_at serves the few new rows
  instead of a scan of the whole table. The model's own table changes only when the model
  runs, so the value cannot go stale between compiling and running.
#}
{% macro watermark() -%}
  {%- if not execute or not is_incremental() -%}
    cast('1970-01-01' as {{ dbt.type_timestamp() }})
  {%- else -%}
    {%- set newest = run_query('select max(applied_at) from ' ~ this).columns[0].values()[0] -%}
    cast('{{ newest.strftime("%Y-%m-%d %H:%M:%S.%f") if newest is not none else "1970-01-01 00:00:00" }}' as {{ dbt.type_timestamp() }})
  {%- endif -%}
{%- endmacro %}


{# newest_events for a kind of history_kinds() (macros/history.sql): its tables, keys, updated_at, created_type. #}
{% macro newest_events_of(kind) -%}
  {%- set spec = history_kinds()[kind] -%}
  {{ return(newest_events(spec['tables'], spec['keys'], updated_at=spec.get('updated_at'), created_type=spec.get('created_type'))) }}
{%- endmacro %}


{#
  The newest event per key among `tables` (see union_events), deletions included.
  keys: list of (column, JSON path in the payload), e.g. [('user_id', ['user_id'])].
  updated_at: an expression on `payload` ranking events of the same time (newest first, NULL last).
  created_type: for that event type, `created_at` is the time of the newest such event.
  Each row: the keys, event_id, event_type, event_time, payload, priority, object_updated_at,
  created_at and applied_at (when the newest-seen event of the key was seen). Events whose
  key is missing are left out.
#}
{% macro newest_events(tables, keys, updated_at=none, created_type=none) -%}
{%- set key_names = keys | map(attribute=0) | list -%}
with loaded as (
    select
        events.*,
        {%- for name, path in keys %}
        {{ json_text('payload', path) }} as {{ name }},
        {%- endfor %}
        {{ ranking_updated_at(updated_at) }} as object_updated_at,
        {%- if created_type %}
        case when event_type = '{{ created_type }}' then event_time end as created_at
        {%- else %}
        cast(null as {{ dbt.type_timestamp() }}) as created_at
        {%- endif %}
    from ({{ union_events(tables, seen_after=watermark() if is_incremental() else none) }}) as events
),

keyed as (
    select * from loaded
    where {% for name in key_names %}{{ name }} is not null{{ ' and ' if not loop.last }}{% endfor %}
),

candidates as (
    select event_id, event_type, event_time, payload, priority, applied_at,
           {{ key_names | join(', ') }}, object_updated_at, created_at
    from keyed
    {%- if is_incremental() %}
    union all
    -- The event applied so far for each key the new events touch: it competes with them.
    select event_id, event_type, event_time, payload, priority, applied_at,
           {{ key_names | join(', ') }}, object_updated_at, created_at
    from {{ this }} as applied
    where exists (
        select 1 from keyed
        where {% for name in key_names %}keyed.{{ name }} = applied.{{ name }}{{ ' and ' if not loop.last }}{% endfor %}
    )
    {%- endif %}
),

ranked as (
    select
        candidates.*,
        row_number() over (
            partition by {{ key_names | join(', ') }}
            order by event_time desc, object_updated_at desc nulls last, priority desc, event_id desc
        ) as newest_first,
        max(created_at) over (partition by {{ key_names | join(', ') }}) as newest_created_at,
        max(applied_at) over (partition by {{ key_names | join(', ') }}) as newest_applied_at
    from candidates
)

select
    {{ key_names | join(', ') }},
    event_id,
    event_type,
    event_time,
    payload,
    priority,
    object_updated_at,
    newest_created_at as created_at,
    newest_applied_at as applied_at
from ranked
where newest_first = 1
{%- endmacro %}


{#
  In an incremental run, the extra column that tells the `replace_keys` strategy to drop a
  recomputed row (`condition`: the entity or relation no longer exists). Nothing otherwise:
  the table never holds the column.
#}
{% macro gone_when(condition) -%}
  {%- if is_incremental() %},
    ({{ condition }}) as is_gone
  {%- endif %}
{%- endmacro %}


{#
  Incremental strategy `replace_keys`: the run's result holds every recomputed key, existing or
  not (`is_gone`); delete the current rows of those keys, insert the ones that still exist.
#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
  {%- set target = arg_dict['target_relation'] -%}
  {%- set source = arg_dict['temp_relation'] -%}
  {%- set keys = [arg_dict['unique_key']] if arg_dict['unique_key'] is string else arg_dict['unique_key'] -%}
  {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
  delete from {{ target }} as current_rows
  where exists (
      select 1 from {{ source }} as recomputed
      where {% for key in keys %}recomputed.{{ key }} = current_rows.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
  );
  insert into {{ target }} ({{ columns }})
  select {{ columns }} from {{ source }} where not is_gone
{%- endmacro %}


{#
  PostgreSQL indexes for the keys and the watermark (DuckDB: none; its zone maps serve).
  lookups: further columns a later model looks rows up by, each its own index (a membership
  by its user: the key's index starts with the organization).
#}
{% macro key_indexes(keys, watermark='applied_at', lookups=[]) -%}
  {%- if target.type == 'postgres' -%}
    {%- set indexes = [{'columns': keys, 'unique': true}, {'columns': [watermark]}] -%}
    {%- for column in lookups -%}
      {%- do indexes.append({'columns': [column]}) -%}
    {%- endfor -%}
    {{ return(indexes) }}
  {%- else -%}
    {{ return([]) }}
  {%- endif -%}
{%- endmacro %}


{#
  A relation's current model agrees with its history: a key exists now when its *_history has
  a version in effect (which a parent's deletion may have ended, though the relation's own newest
  event is an addition). `in_effect`: that version per key, to join (key columns, applied_at);
  `history_changed`: in an incremental run, the keys whose history was rebuilt since `watermark_at`.
#}
{% macro in_effect(history, key_names) -%}
    (select {{ key_names | join(', ') }}, applied_at from {{ history }} where valid_to is null)
{%- endmacro %}

{% macro history_changed(history, key_names, watermark_at) -%}
    select {{ key_names | join(', ') }} from {{ history }} where applied_at > {{ watermark_at }}
{%- endmacro %}


{#
  An entity's current model agrees with its history too: the rows of `int_model` (its newest
  events) whose *_history has a version in effect (which a reconciliation may have closed,
  though the newest event is not a deletion), as a relation with the int_* columns plus
  `exists_now` and `history_applied_at`. Incremental: the keys whose newest event or history
  changed since the model's watermark (exists_now false: the key is gone).
#}
{% macro entity_now(int_model, history, key_name) -%}
  {%- set watermark_at = watermark() -%}
    (
    select newest.*, in_effect.{{ key_name }} is not null as exists_now, in_effect.applied_at as history_applied_at
    from {{ int_model }} as newest
    left join {{ in_effect(history, [key_name]) }} as in_effect on in_effect.{{ key_name }} = newest.{{ key_name }}
    {%- if is_incremental() %}
    where newest.applied_at > {{ watermark_at }}
       or newest.{{ key_name }} in ({{ history_changed(history, [key_name], watermark_at) }})
    {%- else %}
    where in_effect.{{ key_name }} is not null
    {%- endif %}
    ) as newest
{%- endmacro %}
