-- Every event id of the raw tables the models read, with the start of the dbt run that first
-- saw it (UTC) and its load marker (`loaded`: see macros/load_markers.sql). An
-- incremental run adds the ids it has not seen yet, and the int_* models then read exactly the
-- events seen after their own watermark. Re-delivered copies keep their event_id, so they are
-- seen once. What is new: the rows above the highest marker recorded (DuckDB skips the row
-- groups of older rows, PostgreSQL reads them through the marker's index; on PostgreSQL the
-- pre-hook first locks the raw tables so that no lower marker can still commit), and of those
-- the ones whose id is not recorded; for a table without markers, every row whose id is not
-- recorded (an anti-join on the ids, which reads no payload).
{{ config(alias='int_seen_events', materialized='incremental', incremental_strategy='append', on_schema_change='append_new_columns',
          indexes=key_indexes(['stream', 'event_id'], watermark='seen_at'),
          pre_hook="{{ lock_marked_tables() }}") }}
{%- set marked = marked_tables(event_tables()) %}
{%- set newest = none %}
{%- if is_incremental() and marked %}
  {%- set found = run_query('select max(loaded) from ' ~ this) if 'loaded' in (adapter.get_columns_in_relation(this) | map(attribute='name') | list) else none %}
  {%- set newest = found.rows[0][0] if found is not none else none %}
{%- endif %}
{%- for table_name in event_tables() %}
select
    cast('{{ table_name }}' as {{ dbt.type_string() }}) as stream,
    raw.event_id,
    {{ run_started() }} as seen_at,
    {{ 'raw.' ~ load_marker() if table_name in marked else 'cast(null as bigint)' }} as loaded
from {{ event_source(table_name) }} as raw
where raw.event_id is not null
{%- if is_incremental() %}
  {%- if table_name in marked and newest is not none %}
  and raw.{{ load_marker() }} > {{ newest }}
  {%- endif %}
  and not exists (
      select 1 from {{ this }} as seen
      where seen.stream = '{{ table_name }}' and seen.event_id = raw.event_id
  )
{%- endif %}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
