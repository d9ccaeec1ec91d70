-- Users that exist now: per user_id the newest event (event_time, then the user's updated_at)
-- wins, and a user whose newest event is user.deleted is gone. A user created again after a
-- deletion is back. Incremental: a run replaces the users whose newest event changed.
{{ config(materialized='incremental', unique_key='user_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['user_id'])) }}
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
    event_time as last_event_time,
    applied_at
    {{- gone_when("event_type = 'user.deleted'") }}
from {{ ref('int_users') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type <> 'user.deleted'
{%- endif %}
