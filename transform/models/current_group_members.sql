-- Group memberships that exist now: the newest group.member.added / .deleted event per
-- (group, member) decides. A member is a user or a connection (member_type). As with
-- organizations, deleting a group or a user does not end memberships by itself:
-- group_exists / user_exists tell.
with events as (
    {{ union_events([('group_member_added', 1), ('group_member_deleted', 2)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['group', 'id']) }} as group_id,
        {{ json_text('payload', ['member', 'id']) }} as member_id,
        row_number() over (
            partition by
                {{ json_text('payload', ['group', 'id']) }},
                {{ json_text('payload', ['member', 'id']) }}
            order by event_time desc, priority desc, event_id desc
        ) as newest_first
    from events
)

select
    ranked.group_id,
    ranked.member_id,
    {{ json_text('payload', ['member', 'member_type']) }} as member_type,
    {{ json_text('payload', ['member', 'type']) }} as connection_type,
    {{ json_text('payload', ['group', 'type']) }} as group_type,
    groups.name as group_name,
    ranked.event_time as added_at,
    groups.group_id is not null as group_exists,
    case
        when {{ json_text('payload', ['member', 'member_type']) }} = 'user' then users.user_id is not null
    end as user_exists,
    ranked.event_id as last_event_id
from ranked
left join {{ ref('current_groups') }} as groups
    on groups.group_id = ranked.group_id
left join {{ ref('current_users') }} as users
    on users.user_id = ranked.member_id
where ranked.newest_first = 1
  and ranked.event_type = 'group.member.added'
