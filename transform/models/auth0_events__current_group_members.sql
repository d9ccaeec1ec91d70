-- Group memberships that exist now: the newest group.member.added / .deleted event per
-- (group, member) decides. A member is a user or a connection (member_type). As with
-- organizations, deleting a group or a user does not end memberships by itself:
-- group_exists / user_exists tell. Incremental: a run recomputes the memberships whose own
-- events, group or user changed.
{{ config(alias='current_group_members', materialized='incremental', unique_key=['group_id', 'member_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['group_id', 'member_id'])) }}
{#- The watermark, read once for the model's several filters. #}
{%- set watermark_at = watermark() %}
with
{%- if is_incremental() %}
changed as (
    select group_id, member_id
    from {{ ref('auth0_events__int_group_memberships') }}
    where applied_at > {{ watermark_at }}
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
    greatest(memberships.applied_at, groups.applied_at, users.applied_at) as applied_at
    {{- gone_when("memberships.event_type <> 'group.member.added'") }}
from memberships
left join {{ ref('auth0_events__int_groups') }} as groups
    on groups.group_id = memberships.group_id
left join {{ ref('auth0_events__int_users') }} as users
    on users.user_id = memberships.member_id
{%- if not is_incremental() %}
where memberships.event_type = 'group.member.added'
{%- endif %}
