-- Groups that exist now: per group id the newest event (event_time, then the group's
-- updated_at, which group.created lacks) wins, and group.deleted ends a group.
with events as (
    {{ union_events([('group_created', 1), ('group_updated', 2), ('group_deleted', 3)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['id']) }} as group_id,
        coalesce(
            {{ to_timestamp(json_text('payload', ['updated_at'])) }},
            {{ to_timestamp(json_text('payload', ['created_at'])) }}
        ) as object_updated_at,
        row_number() over (
            partition by {{ json_text('payload', ['id']) }}
            order by
                event_time desc,
                coalesce(
                    {{ to_timestamp(json_text('payload', ['updated_at'])) }},
                    {{ to_timestamp(json_text('payload', ['created_at'])) }}
                ) desc nulls last,
                priority desc,
                event_id desc
        ) as newest_first
    from events
)

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
    event_time as last_event_time
from ranked
where newest_first = 1
  and event_type <> 'group.deleted'
