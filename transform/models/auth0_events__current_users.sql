-- Users that exist now: per user_id the newest event (event_time, then the user's updated_at)
-- wins, and a user whose newest event is user.deleted is gone. A user created again after a
-- deletion is back; one a newer complete baseline no longer holds (reconciliation: no version
-- of users_history in effect) is gone too. Incremental: a run replaces the users whose newest
-- event or history changed.
{{ config(alias='current_users', materialized='incremental', unique_key='user_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['user_id'])) }}
select
    user_id,
    {{ user_attributes('payload') }},
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    greatest(applied_at, history_applied_at) as applied_at
    {{- gone_when("not exists_now") }}
from {{ entity_now(ref('auth0_events__int_users'), ref('auth0_events__users_history'), 'user_id') }}
