-- Roles current organization members hold: the newest event for (organization, user, role) is
-- an assignment (or a baseline's record of it), the user is a member of the organization now, and neither was deleted since
-- (organization_member_roles_history has a version in effect). Incremental: a run
-- recomputes the roles whose own newest event or whose membership changed.
{{ config(alias='current_organization_member_roles', materialized='incremental', unique_key=['organization_id', 'user_id', 'role_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['organization_id', 'user_id', 'role_id'])) }}
{#- The watermark, read once for the model's several filters. #}
{%- set watermark_at = watermark() %}
{%- set history = ref('auth0_events__organization_member_roles_history') %}
with
{%- if is_incremental() %}
changed as (
    select organization_id, user_id, role_id
    from {{ ref('auth0_events__int_organization_member_roles') }}
    where applied_at > {{ watermark_at }}
    union
    {{ history_changed(history, ['organization_id', 'user_id', 'role_id'], watermark_at) }}
    union
    select roles.organization_id, roles.user_id, roles.role_id
    from {{ ref('auth0_events__int_organization_member_roles') }} as roles
    inner join {{ ref('auth0_events__int_organization_memberships') }} as memberships
        on memberships.organization_id = roles.organization_id
        and memberships.user_id = roles.user_id
    where memberships.applied_at > {{ watermark_at }}
),
{%- endif %}

roles as (
    select roles.*
    from {{ ref('auth0_events__int_organization_member_roles') }} as roles
    {%- if is_incremental() %}
    inner join changed
        on changed.organization_id = roles.organization_id
        and changed.user_id = roles.user_id
        and changed.role_id = roles.role_id
    {%- endif %}
)

select
    roles.organization_id,
    roles.user_id,
    roles.role_id,
    {{ json_text('roles.payload', ['role', 'name']) }} as role_name,
    roles.event_time as assigned_at,
    roles.event_id as last_event_id,
    greatest(roles.applied_at, memberships.applied_at, in_effect.applied_at) as applied_at
    {{- gone_when("roles.event_type = 'organization.member.role.deleted' "
                  "or coalesce(memberships.event_type, 'organization.member.deleted') = 'organization.member.deleted' "
                  "or in_effect.organization_id is null") }}
from roles
left join {{ ref('auth0_events__int_organization_memberships') }} as memberships
    on memberships.organization_id = roles.organization_id
    and memberships.user_id = roles.user_id
left join {{ in_effect(history, ['organization_id', 'user_id', 'role_id']) }} as in_effect
    on in_effect.organization_id = roles.organization_id
    and in_effect.user_id = roles.user_id
    and in_effect.role_id = roles.role_id
{%- if not is_incremental() %}
where roles.event_type <> 'organization.member.role.deleted'
  and memberships.event_type <> 'organization.member.deleted'
  and in_effect.organization_id is not null
{%- endif %}
