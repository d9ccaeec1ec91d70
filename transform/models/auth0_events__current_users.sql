-- Users that exist now: per user_id the newest event (event_time, then the user's updated_at)
-- wins, and a user whose newest event is user.deleted is gone. A user created again after a
-- deletion is back. Incremental: a run replaces the users whose newest event changed.
{{ config(alias='current_users', materialized='incremental', unique_key='user_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['user_id'])) }}
select
    user_id,
    {{ user_attributes('payload') }},
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    applied_at
    {{- gone_when("event_type = 'user.deleted'") }}
from {{ ref('auth0_events__int_users') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type <> 'user.deleted'
{%- endif %}
