-- Per (organization, user, role): the newest organization.member.role.assigned / .deleted event.
with events as (
    {{ union_events([('organization_member_role_assigned', 1), ('organization_member_role_deleted', 2)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['organization', 'id']) }} as organization_id,
        {{ json_text('payload', ['user', 'user_id']) }} as user_id,
        {{ json_text('payload', ['role', 'id']) }} as role_id,
        row_number() over (
            partition by
                {{ json_text('payload', ['organization', 'id']) }},
                {{ json_text('payload', ['user', 'user_id']) }},
                {{ json_text('payload', ['role', 'id']) }}
            order by event_time desc, priority desc, event_id desc
        ) as newest_first
    from events
)

select
    organization_id,
    user_id,
    role_id,
    {{ json_text('payload', ['role', 'name']) }} as role_name,
    event_type = 'organization.member.role.assigned' as is_assigned,
    event_id as last_event_id,
    event_time as last_event_time
from ranked
where newest_first = 1
