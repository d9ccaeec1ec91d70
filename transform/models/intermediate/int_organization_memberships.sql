-- Per (organization, user): the newest organization.member.added / .deleted event.
-- A deletion stamped with the same time as an addition wins.
with events as (
    {{ union_events([('organization_member_added', 1), ('organization_member_deleted', 2)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['organization', 'id']) }} as organization_id,
        {{ json_text('payload', ['user', 'user_id']) }} as user_id,
        row_number() over (
            partition by
                {{ json_text('payload', ['organization', 'id']) }},
                {{ json_text('payload', ['user', 'user_id']) }}
            order by event_time desc, priority desc, event_id desc
        ) as newest_first
    from events
)

select
    organization_id,
    user_id,
    {{ json_text('payload', ['organization', 'name']) }} as organization_name,
    event_type = 'organization.member.added' as is_member,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time
from ranked
where newest_first = 1
