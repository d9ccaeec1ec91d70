-- Organization memberships that exist now, with the member's roles. The newest
-- organization.member.added / .deleted event per (organization, user) decides, and deleting the
-- user or the organization ends the membership (Auth0 removes it with them, whether or not an
-- organization.member.deleted follows): a membership exists when organization_members_history
-- has a version in effect. user_exists / organization_exists say whether the models know the
-- user and the organization as existing (false for one never seen in an event). Incremental: a run recomputes the
-- memberships whose own events, roles, user or organization changed.
{{ config(alias='current_organization_members', materialized='incremental', unique_key=['organization_id', 'user_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['organization_id', 'user_id'])) }}
{#- The watermark, read once for the model's several filters. #}
{%- set watermark_at = watermark() %}
{%- set history = ref('auth0_events__organization_members_history') %}
with
{%- if is_incremental() %}
changed as (
    select organization_id, user_id
    from {{ ref('auth0_events__int_organization_memberships') }}
    where applied_at > {{ watermark_at }}
    union
    {{ history_changed(history, ['organization_id', 'user_id'], watermark_at) }}
    union
    select organization_id, user_id
    from {{ ref('auth0_events__int_organization_member_roles') }}
    where applied_at > {{ watermark_at }}
    union
    select memberships.organization_id, memberships.user_id
    from {{ ref('auth0_events__int_organization_memberships') }} as memberships
    inner join {{ ref('auth0_events__int_users') }} as users on users.user_id = memberships.user_id
    where users.applied_at > {{ watermark_at }}
    union
    select memberships.organization_id, memberships.user_id
    from {{ ref('auth0_events__int_organization_memberships') }} as memberships
    inner join {{ ref('auth0_events__int_organizations') }} as organizations
        on organizations.organization_id = memberships.organization_id
    where organizations.applied_at > {{ watermark_at }}
),
{%- endif %}

memberships as (
    select memberships.*
    from {{ ref('auth0_events__int_organization_memberships') }} as memberships
    {%- if is_incremental() %}
    inner join changed
        on changed.organization_id = memberships.organization_id
        and changed.user_id = memberships.user_id
    {%- endif %}
),

roles as (
    select
        held.organization_id,
        held.user_id,
        count(*) as role_count,
        {{ dbt.listagg('held.role_id', "','", 'order by held.role_id') }} as role_ids,
        {{ dbt.listagg('held.role_name', "','", 'order by held.role_id') }} as role_names
    from {{ ref('auth0_events__current_organization_member_roles') }} as held
    inner join memberships
        on memberships.organization_id = held.organization_id
        and memberships.user_id = held.user_id
    group by held.organization_id, held.user_id
),

-- When the newest event about any role of the member (held or not) was applied.
role_loads as (
    select role_events.organization_id, role_events.user_id, max(role_events.applied_at) as applied_at
    from {{ ref('auth0_events__int_organization_member_roles') }} as role_events
    inner join memberships
        on memberships.organization_id = role_events.organization_id
        and memberships.user_id = role_events.user_id
    group by role_events.organization_id, role_events.user_id
)

select
    memberships.organization_id,
    memberships.user_id,
    coalesce(
        case when organizations.event_type <> 'organization.deleted' then {{ json_text('organizations.payload', ['name']) }} end,
        {{ json_text('memberships.payload', ['organization', 'name']) }}
    ) as organization_name,
    case when users.event_type <> 'user.deleted' then {{ json_text('users.payload', ['email']) }} end as user_email,
    memberships.event_time as added_at,
    coalesce(roles.role_count, 0) as role_count,
    roles.role_ids,
    roles.role_names,
    coalesce(users.event_type <> 'user.deleted', false) as user_exists,
    coalesce(organizations.event_type <> 'organization.deleted', false) as organization_exists,
    memberships.event_id as last_event_id,
    greatest(memberships.applied_at, role_loads.applied_at, users.applied_at, organizations.applied_at, in_effect.applied_at)
        as applied_at
    {{- gone_when("memberships.event_type = 'organization.member.deleted' or in_effect.organization_id is null") }}
from memberships
left join roles
    on roles.organization_id = memberships.organization_id
    and roles.user_id = memberships.user_id
left join role_loads
    on role_loads.organization_id = memberships.organization_id
    and role_loads.user_id = memberships.user_id
left join {{ ref('auth0_events__int_users') }} as users
    on users.user_id = memberships.user_id
left join {{ ref('auth0_events__int_organizations') }} as organizations
    on organizations.organization_id = memberships.organization_id
left join {{ in_effect(history, ['organization_id', 'user_id']) }} as in_effect
    on in_effect.organization_id = memberships.organization_id and in_effect.user_id = memberships.user_id
{%- if not is_incremental() %}
where memberships.event_type <> 'organization.member.deleted' and in_effect.organization_id is not null
{%- endif %}
