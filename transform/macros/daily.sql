{#-
  The daily models: counts at the end of each UTC day, from a *_history model.

  A life is a run of versions of one key, each starting when the previous one ends. A day's
  `started` counts the lives that began that day, `ended` those that ended that day, and the
  count at the end of the day is the running sum of started - ended: the lives in effect just
  before the next midnight (an event at 00:00:00 belongs to its own day). One row per day (per
  group: an organization, from its first membership's day) up to the day of the newest event
  loaded, days without events included.

  Incremental: a run recomputes the days from the earliest day of the events it sees (or the
  last day it holds, if later), carrying the count of the day before from the stored row. The
  days are read when the model is compiled, so every read of the stored rows and of the
  history is a range of days, not the whole table (PostgreSQL: daily_indexes below).
-#}

{# A UTC timestamp's day, as a date. #}
{% macro auth0_events_day(expression) -%}
  cast({{ dbt.date_trunc('day', expression) }} as date)
{%- endmacro %}


{#
  history: the relation; kind: its kind in history_kinds(); key_names: its key; group_names:
  the columns counted per (none: one count per day); names: (count column, started column,
  ended column).
#}
{% macro daily_counts(history, kind, key_names, group_names, names) -%}
{%- set count_name, started_name, ended_name = names -%}
{%- set groups = group_names | join(', ') -%}
{#- The days to recompute, read when the model is compiled and written as literals (so that
    the reads of the stored rows below use their indexes or zone maps). -#}
{%- set bounds_query -%}
with new_events as (
    -- The new events, and the start of each baseline completed since (its reconciliation closes
    -- lives then).
    select min(event_time) as first_time, max(event_time) as last_time
    from (
        select event_time from {{ ref('auth0_events__int_history_events') }}
        {%- if is_incremental() %}
        where applied_at > {{ watermark() }}
        {%- endif %}
        union all
        select started_at as event_time from {{ ref('auth0_events__int_baselines') }}
        {%- if is_incremental() %}
        where applied_at > {{ watermark() }}
        {%- endif %}
    ) as changes
),

{%- if is_incremental() %}
-- New events that may be the first of their key (none of its events is older) and either not
-- its creation (a life before the log) or older than its events already applied (which may have
-- begun one).
revealing as (
    select count(*) as found
    from {{ ref('auth0_events__int_history_events') }} as new
    where new.kind = '{{ kind }}' and new.applied_at > {{ watermark() }}
      and not exists (
          select 1 from {{ ref('auth0_events__int_history_events') }} as older
          where older.kind = new.kind
            {%- for name in key_names %}
            and older.key_{{ loop.index }} = new.key_{{ loop.index }}
            {%- endfor %}
            and older.event_time < new.event_time
      )
      and (
          new.priority <> 1
          or exists (
              select 1 from {{ ref('auth0_events__int_history_events') }} as applied
              where applied.kind = new.kind
                {%- for name in key_names %}
                and applied.key_{{ loop.index }} = new.key_{{ loop.index }}
                {%- endfor %}
                and applied.applied_at <= {{ watermark() }}
          )
      )
),
{%- endif %}

bounds as (
    {%- if is_incremental() %}
    select
        case
            when stored.first_day is null or new_events.first_time is null
                then coalesce(stored.first_day, {{ auth0_events_day('new_events.first_time') }})
            when {{ auth0_events_day('new_events.first_time') }} < stored.first_day
                then {{ auth0_events_day('new_events.first_time') }}
            else stored.first_day
        end as first_day,
        case
            when stored.last_day is null or new_events.last_time is null
                then coalesce(stored.last_day, {{ auth0_events_day('new_events.last_time') }})
            when {{ auth0_events_day('new_events.last_time') }} > stored.last_day
                then {{ auth0_events_day('new_events.last_time') }}
            else stored.last_day
        end as last_day,
        -- Days before this one are unchanged, unless a new event reveals or undoes a life
        -- before the log, which covers every day from the first.
        case
            when revealing.found > 0 and new_events.first_time is not null
                 and (stored.first_day is null or {{ auth0_events_day('new_events.first_time') }} < stored.first_day)
                then {{ auth0_events_day('new_events.first_time') }}
            when revealing.found > 0 then stored.first_day
            when stored.last_day is null or new_events.first_time is null
                then coalesce(stored.last_day, {{ auth0_events_day('new_events.first_time') }})
            when {{ auth0_events_day('new_events.first_time') }} < stored.last_day
                then {{ auth0_events_day('new_events.first_time') }}
            else stored.last_day
        end as start_day
    from new_events
    cross join (select min(date_day) as first_day, max(date_day) as last_day from {{ this }}) as stored
    cross join revealing
    {%- else %}
    select
        {{ auth0_events_day('first_time') }} as first_day,
        {{ auth0_events_day('last_time') }} as last_day,
        {{ auth0_events_day('first_time') }} as start_day
    from new_events
    {%- endif %}
)

select first_day, last_day, start_day from bounds
{%- endset -%}
{%- set found = run_query(bounds_query).rows[0] if execute else [none, none, none] -%}
{%- set day_literals = [] -%}
{%- for day in found -%}
  {%- do day_literals.append("cast('" ~ day ~ "' as date)" if day is not none else 'cast(null as date)') -%}
{%- endfor -%}
with recursive
bounds as (
    select {{ day_literals[0] }} as first_day, {{ day_literals[1] }} as last_day, {{ day_literals[2] }} as start_day
),

days as (
    select start_day as date_day from bounds where start_day is not null
    union all
    select cast({{ dbt.dateadd('day', 1, 'days.date_day') }} as date)
    from days
    cross join bounds
    where days.date_day < bounds.last_day
),

-- Every version of the keys with a version starting or ending on the days recomputed.
keys_versions as (
    select history.*
    from {{ history }} as history
    {%- if is_incremental() %}
    where exists (
        select 1 from {{ history }} as recent
        where {% for name in key_names %}recent.{{ name }} = history.{{ name }} and {% endfor -%}
          (recent.valid_from >= cast({{ day_literals[2] }} as {{ dbt.type_timestamp() }})
           or recent.valid_to >= cast({{ day_literals[2] }} as {{ dbt.type_timestamp() }}))
    )
    {%- endif %}
),

flagged as (
    select
        {% for name in group_names %}{{ name }}, {% endfor -%}
        valid_from,
        valid_to,
        case when lag(valid_to) over key_order = valid_from then 0 else 1 end as starts_life,
        case
            when valid_to is null then 0
            when lead(valid_from) over key_order = valid_to then 0
            else 1
        end as ends_life
    from keys_versions
    window key_order as (partition by {{ key_names | join(', ') }} order by valid_from)
),

changes as (
    select {% for name in group_names %}{{ name }}, {% endfor -%}
        date_day, sum(started) as started, sum(before_log) as before_log, sum(ended) as ended
    from (
        select {% for name in group_names %}{{ name }}, {% endfor -%}
            {{ auth0_events_day('valid_from') }} as date_day, 1 as started, 0 as before_log, 0 as ended
        from flagged where starts_life = 1 and valid_from > {{ auth0_events_before_log() }}
        union all
        -- A life begun before the log exists from the first day on; it began on no day.
        select {% for name in group_names %}{{ name }}, {% endfor -%}
            bounds.first_day as date_day, 0 as started, 1 as before_log, 0 as ended
        from flagged cross join bounds where starts_life = 1 and valid_from = {{ auth0_events_before_log() }}
        union all
        select {% for name in group_names %}{{ name }}, {% endfor -%}
            {{ auth0_events_day('valid_to') }} as date_day, 0 as started, 0 as before_log, 1 as ended
        from flagged where ends_life = 1
    ) as lives
    cross join bounds
    where lives.date_day >= bounds.start_day
    group by {% for name in group_names %}{{ name }}, {% endfor %}date_day
),

{%- if group_names %}
-- Each group's first day: of its first change, or of its first stored row.
group_first as (
    select {{ groups }}, min(date_day) as first_day
    from (
        select {{ groups }}, date_day from changes
        {%- if is_incremental() %}
        union all
        -- A stored group has a row for every day from its first to the last stored day, so
        -- its rows from the day before the first recomputed one say whether it starts later.
        select {{ groups }}, date_day from {{ this }}
        where date_day >= cast({{ dbt.dateadd('day', -1, day_literals[2]) }} as date)
        {%- endif %}
    ) as firsts
    group by {{ groups }}
),

grid as (
    select {% for name in group_names %}group_first.{{ name }}, {% endfor %}days.date_day
    from group_first
    inner join days on days.date_day >= group_first.first_day
),
{%- else %}

grid as (
    select days.date_day from days
),
{%- endif %}

-- The count at the end of the day before the first recomputed one.
carried as (
    {%- if is_incremental() %}
    select {% for name in group_names %}stored.{{ name }}, {% endfor %}stored.{{ count_name }}
    from {{ this }} as stored
    where stored.date_day = cast({{ dbt.dateadd('day', -1, day_literals[2]) }} as date)
    {%- else %}
    select {% for name in group_names %}cast(null as {{ dbt.type_string() }}) as {{ name }}, {% endfor -%}
        cast(0 as bigint) as {{ count_name }}
    where 1 = 0
    {%- endif %}
)

select
    grid.date_day,
    {%- for name in group_names %}
    grid.{{ name }},
    {%- endfor %}
    cast(
        coalesce({{ '(select ' ~ count_name ~ ' from carried)' if not group_names else 'carried.' ~ count_name }}, 0)
        + sum(coalesce(changes.started, 0) + coalesce(changes.before_log, 0) - coalesce(changes.ended, 0)) over (
            {%- if group_names %}
            partition by {% for name in group_names %}grid.{{ name }}{{ ', ' if not loop.last }}{% endfor %}
            {%- endif %}
            order by grid.date_day rows between unbounded preceding and current row
        )
    as bigint) as {{ count_name }},
    cast(coalesce(changes.started, 0) as bigint) as {{ started_name }},
    cast(coalesce(changes.ended, 0) as bigint) as {{ ended_name }},
    {{ run_started() }} as applied_at
from grid
left join changes
    on changes.date_day = grid.date_day
    {%- for name in group_names %}
    and changes.{{ name }} = grid.{{ name }}
    {%- endfor %}
{%- if group_names %}
left join carried
    on {% for name in group_names %}carried.{{ name }} = grid.{{ name }}{{ ' and ' if not loop.last }}{% endfor %}
{%- endif %}
{%- endmacro %}


{# PostgreSQL indexes of a daily model: its key (date_day first: the stored rows are read by day)
   and applied_at (its watermark). #}
{% macro daily_indexes(keys) -%}
  {%- if target.type == 'postgres' -%}
    {{ return([{'columns': keys, 'unique': true}, {'columns': ['applied_at']}]) }}
  {%- else -%}
    {{ return([]) }}
  {%- endif -%}
{%- endmacro %}
