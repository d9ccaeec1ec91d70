-- Roles groups hold in organizations now: per (organization, group, role) the newest
-- organization.group.role.assigned / .deleted event decides. Deleting the group or the
-- organization does not end them by itself. Incremental: a run replaces the keys whose newest
-- event changed.
{{ config(materialized='incremental', unique_key=['organization_id', 'group_id', 'role_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['organization_id', 'group_id', 'role_id'])) }}
select
    organization_id,
    group_id,
    role_id,
    {{ json_text('payload', ['role', 'name']) }} as role_name,
    {{ json_text('payload', ['group', 'type']) }} as group_type,
    event_time as assigned_at,
    event_id as last_event_id,
    applied_at
    {{- gone_when("event_type <> 'organization.group.role.assigned'") }}
from {{ ref('int_organization_group_roles') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type = 'organization.group.role.assigned'
{%- endif %}
