-- Every event id of the raw tables the models read, with the start of the dbt run that first
-- saw it (UTC). An incremental run adds the ids it has not seen yet (an anti-join on the ids,
-- which reads no payload), and the int_* models then read exactly the events seen after their
-- own watermark. Re-delivered copies keep their event_id, so they are seen once.
{{ config(materialized='incremental', incremental_strategy='append',
          indexes=key_indexes(['stream', 'event_id'], watermark='seen_at')) }}
{%- for table_name in event_tables() %}
select
    cast('{{ table_name }}' as {{ dbt.type_string() }}) as stream,
    raw.event_id,
    {{ run_started() }} as seen_at
from {{ event_source(table_name) }} as raw
where raw.event_id is not null
{%- if is_incremental() %}
  and not exists (
      select 1 from {{ this }} as seen
      where seen.stream = '{{ table_name }}' and seen.event_id = raw.event_id
  )
{%- endif %}
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
