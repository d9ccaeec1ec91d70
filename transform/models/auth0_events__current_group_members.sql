-- Group memberships that exist now: the newest group.member.added / .deleted event per
-- (group, member) decides. A member is a user or a connection (member_type). Deleting the group
-- or the user ends the membership (Auth0 removes it with them): it exists when
-- group_members_history has a version in effect. group_exists / user_exists say whether the
-- models know the group and the user as existing. Incremental: a run recomputes the memberships whose own
-- events, group or user changed.
{{ config(alias='current_group_members', materialized='incremental', unique_key=['group_id', 'member_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['group_id', 'member_id'])) }}
{#- The watermark, read once for the model's several filters. #}
{%- set watermark_at = watermark() %}
{%- set history = ref('auth0_events__group_members_history') %}
with
{%- if is_incremental() %}
changed as (
    select group_id, member_id
    from {{ ref('auth0_events__int_group_memberships') }}
    where applied_at > {{ watermark_at }}
    union
    {{ history_changed(history, ['group_id', 'member_id'], watermark_at) }}
    union
    select memberships.group_id, memberships.member_id
    from {{ ref('auth0_events__int_group_memberships') }} as memberships
    inner join {{ ref('auth0_events__int_groups') }} as groups on groups.group_id = memberships.group_id
    where groups.applied_at > {{ watermark_at }}
    union
    select memberships.group_id, memberships.member_id
    from {{ ref('auth0_events__int_group_memberships') }} as memberships
    inner join {{ ref('auth0_events__int_users') }} as users on users.user_id = memberships.member_id
    where users.applied_at > {{ watermark_at }}
),
{%- endif %}

memberships as (
    select
        memberships.*,
        {{ json_text('memberships.payload', ['member', 'member_type']) }} as member_type
    from {{ ref('auth0_events__int_group_memberships') }} as memberships
    {%- if is_incremental() %}
    inner join changed
        on changed.group_id = memberships.group_id
        and changed.member_id = memberships.member_id
    {%- endif %}
)

select
    memberships.group_id,
    memberships.member_id,
    memberships.member_type,
    {{ json_text('memberships.payload', ['member', 'type']) }} as connection_type,
    {{ json_text('memberships.payload', ['group', 'type']) }} as group_type,
    case when groups.event_type <> 'group.deleted' then {{ json_text('groups.payload', ['name']) }} end as group_name,
    memberships.event_time as added_at,
    coalesce(groups.event_type <> 'group.deleted', false) as group_exists,
    case
        when memberships.member_type = 'user' then coalesce(users.event_type <> 'user.deleted', false)
    end as user_exists,
    memberships.event_id as last_event_id,
    greatest(memberships.applied_at, groups.applied_at, users.applied_at, in_effect.applied_at) as applied_at
    {{- gone_when("memberships.event_type = 'group.member.deleted' or in_effect.group_id is null") }}
from memberships
left join {{ ref('auth0_events__int_groups') }} as groups
    on groups.group_id = memberships.group_id
left join {{ ref('auth0_events__int_users') }} as users
    on users.user_id = memberships.member_id
left join {{ in_effect(history, ['group_id', 'member_id']) }} as in_effect
    on in_effect.group_id = memberships.group_id and in_effect.member_id = memberships.member_id
{%- if not is_incremental() %}
where memberships.event_type <> 'group.member.deleted' and in_effect.group_id is not null
{%- endif %}
