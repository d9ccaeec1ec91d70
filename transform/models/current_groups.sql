-- Groups that exist now: per group id the newest event (event_time, then the group's
-- updated_at, which group.created lacks) wins, and group.deleted ends a group. Incremental.
{{ config(materialized='incremental', unique_key='group_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['group_id'])) }}
select
    group_id,
    {{ json_text('payload', ['name']) }} as name,
    {{ json_text('payload', ['type']) }} as group_type,
    {{ json_text('payload', ['external_id']) }} as external_id,
    {{ json_text('payload', ['connection_id']) }} as connection_id,
    {{ json_text('payload', ['organization_id']) }} as organization_id,
    {{ to_timestamp(json_text('payload', ['created_at'])) }} as created_at,
    object_updated_at as updated_at,
    payload as group_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    applied_at
    {{- gone_when("event_type = 'group.deleted'") }}
from {{ ref('int_groups') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type <> 'group.deleted'
{%- endif %}
