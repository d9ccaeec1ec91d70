-- Organizations that exist now: per organization id the newest event wins (organizations carry
-- no updated_at, so event_time decides), and organization.deleted ends one.
with events as (
    {{ union_events([('organization_created', 1), ('organization_updated', 2), ('organization_deleted', 3)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['id']) }} as organization_id,
        row_number() over (
            partition by {{ json_text('payload', ['id']) }}
            order by event_time desc, priority desc, event_id desc
        ) as newest_first,
        -- When the current life of the organization began (a re-created one starts again).
        max(case when event_type = 'organization.created' then event_time end) over (
            partition by {{ json_text('payload', ['id']) }}
        ) as created_at
    from events
)

select
    organization_id,
    {{ json_text('payload', ['name']) }} as name,
    {{ json_text('payload', ['display_name']) }} as display_name,
    {{ json_value('payload', ['metadata']) }} as metadata,
    {{ json_value('payload', ['branding']) }} as branding,
    created_at,
    event_time as updated_at,
    payload as organization_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time
from ranked
where newest_first = 1
  and event_type <> 'organization.deleted'
