-- Roles assigned to groups now: per (group, role) the newest group.role.assigned / .deleted
-- event decides. As with group members, deleting the group does not end its roles by itself.
-- Incremental: a run replaces the pairs whose newest event changed.
{{ config(materialized='incremental', unique_key=['group_id', 'role_id'], incremental_strategy='replace_keys',
          indexes=key_indexes(['group_id', 'role_id'])) }}
select
    group_id,
    role_id,
    {{ json_text('payload', ['role', 'name']) }} as role_name,
    {{ json_text('payload', ['group', 'type']) }} as group_type,
    event_time as assigned_at,
    event_id as last_event_id,
    applied_at
    {{- gone_when("event_type <> 'group.role.assigned'") }}
from {{ ref('int_group_roles') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type = 'group.role.assigned'
{%- endif %}
