-- Connections that exist now: per connection id the newest connection.created / .updated /
-- .deleted event wins (connection objects carry no timestamps, so event_time decides), and
-- connection.deleted ends one. Any strategy is kept; options and metadata stay whole (JSON).
with events as (
    {{ union_events([('connection_created', 1), ('connection_updated', 2), ('connection_deleted', 3)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['id']) }} as connection_id,
        row_number() over (
            partition by {{ json_text('payload', ['id']) }}
            order by event_time desc, priority desc, event_id desc
        ) as newest_first,
        -- When the current life of the connection began.
        max(case when event_type = 'connection.created' then event_time end) over (
            partition by {{ json_text('payload', ['id']) }}
        ) as created_at
    from events
)

select
    connection_id,
    {{ json_text('payload', ['name']) }} as name,
    {{ json_text('payload', ['display_name']) }} as display_name,
    {{ json_text('payload', ['strategy']) }} as strategy,
    cast({{ json_text('payload', ['is_domain_connection']) }} as boolean) as is_domain_connection,
    cast({{ json_text('payload', ['show_as_button']) }} as boolean) as show_as_button,
    cast({{ json_text('payload', ['authentication', 'active']) }} as boolean) as authentication_active,
    {{ json_value('payload', ['enabled_clients']) }} as enabled_clients,
    {{ json_value('payload', ['realms']) }} as realms,
    {{ json_value('payload', ['metadata']) }} as metadata,
    {{ json_value('payload', ['options']) }} as options,
    created_at,
    event_time as updated_at,
    payload as connection_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time
from ranked
where newest_first = 1
  and event_type <> 'connection.deleted'
