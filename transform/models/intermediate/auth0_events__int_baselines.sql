-- The complete baseline streams: one row per (baseline_id, stream) whose read completed (its
-- `baselines` row) and whose records have all been seen (int_seen_events), with the kind of
-- history_kinds() it holds, started_at, completed_at (the later of the tap's and its newest
-- record's event_time) and applied_at (the dbt run that found it complete). A complete stream
-- reconciles its kind's history (history_versions in macros/history.sql): what it does not
-- hold, and no event explains, was gone by started_at.
-- Incremental: a run adds the streams complete since its last run. On PostgreSQL a `baselines`
-- row may commit before the last of its records; the stream then waits for them.
{{ config(alias='int_baselines', materialized='incremental', incremental_strategy='append',
          indexes=key_indexes(['baseline_id', 'stream'])) }}
{%- set kinds = baseline_kinds() %}
{%- set loaded = [] %}
{%- for table_name in kinds if not execute or load_relation(source('auth0_events', table_name)) is not none %}
  {%- do loaded.append(table_name) %}
{%- endfor %}
with finished as (
    select
        finished.baseline_id,
        finished.stream,
        cast(finished.started_at as {{ dbt.type_timestamp() }}) as started_at,
        cast(finished.completed_at as {{ dbt.type_timestamp() }}) as completed_at,
        finished.records
    from {{ baselines_source() }} as finished
    where finished.stream in ('{{ kinds.keys() | join("', '") }}')
    {%- if is_incremental() %}
      and not exists (
          select 1 from {{ this }} as known
          where known.baseline_id = finished.baseline_id and known.stream = finished.stream
      )
    {%- endif %}
),

-- The records of those baselines seen so far, per stream.
seen_records as (
    {%- for table_name in loaded %}
    select cast('{{ table_name }}' as {{ dbt.type_string() }}) as stream, raw.baseline_id, count(distinct raw.event_id) as records,
           max(cast(raw.event_time as {{ dbt.type_timestamp() }})) as newest_record_at
    from {{ source('auth0_events', table_name) }} as raw
    inner join {{ ref('auth0_events__int_seen_events') }} as seen
        on seen.stream = '{{ table_name }}' and seen.event_id = raw.event_id
    where raw.baseline_id in (select baseline_id from finished where stream = '{{ table_name }}')
    group by raw.baseline_id
    union all
    {%- endfor %}
    select cast(null as {{ dbt.type_string() }}) as stream, cast(null as {{ dbt.type_string() }}) as baseline_id,
           cast(0 as bigint) as records, cast(null as {{ dbt.type_timestamp() }}) as newest_record_at
    where 1 = 0
)

select
    finished.baseline_id,
    finished.stream,
    cast(case finished.stream
        {%- for table_name, kind in kinds.items() %}
        when '{{ table_name }}' then '{{ kind }}'
        {%- endfor %}
    end as {{ dbt.type_string() }}) as kind,
    finished.started_at,
    -- A read's relations (an organization's members, ...) are answered after the page that
    -- completed it: the read lasted at least until its newest record.
    case
        when seen_records.newest_record_at > finished.completed_at then seen_records.newest_record_at
        else finished.completed_at
    end as completed_at,
    {{ run_started() }} as applied_at
from finished
left join seen_records
    on seen_records.stream = finished.stream and seen_records.baseline_id = finished.baseline_id
where coalesce(seen_records.records, 0) >= finished.records
