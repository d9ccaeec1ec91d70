-- Users that exist now: per user_id the newest event (event_time, then the user's updated_at)
-- wins, and a user whose newest event is user.deleted is gone. A user created again after a
-- deletion is back.
with events as (
    {{ union_events([('user_created', 1), ('user_updated', 2), ('user_deleted', 3)]) }}
),

ranked as (
    select
        events.*,
        {{ json_text('payload', ['user_id']) }} as user_id,
        {{ to_timestamp(json_text('payload', ['updated_at'])) }} as object_updated_at,
        row_number() over (
            partition by {{ json_text('payload', ['user_id']) }}
            order by
                event_time desc,
                {{ to_timestamp(json_text('payload', ['updated_at'])) }} desc nulls last,
                priority desc,
                event_id desc
        ) as newest_first
    from events
)

select
    user_id,
    {{ json_text('payload', ['email']) }} as email,
    cast({{ json_text('payload', ['email_verified']) }} as boolean) as email_verified,
    {{ json_text('payload', ['username']) }} as username,
    {{ json_text('payload', ['name']) }} as name,
    {{ json_text('payload', ['nickname']) }} as nickname,
    {{ json_text('payload', ['given_name']) }} as given_name,
    {{ json_text('payload', ['family_name']) }} as family_name,
    {{ json_text('payload', ['phone_number']) }} as phone_number,
    coalesce(cast({{ json_text('payload', ['blocked']) }} as boolean), false) as blocked,
    cast({{ json_text('payload', ['logins_count']) }} as bigint) as logins_count,
    {{ to_timestamp(json_text('payload', ['last_login'])) }} as last_login,
    {{ to_timestamp(json_text('payload', ['created_at'])) }} as created_at,
    object_updated_at as updated_at,
    {{ json_value('payload', ['identities']) }} as identities,
    {{ json_value('payload', ['app_metadata']) }} as app_metadata,
    {{ json_value('payload', ['user_metadata']) }} as user_metadata,
    payload as user_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time
from ranked
where newest_first = 1
  and event_type <> 'user.deleted'
