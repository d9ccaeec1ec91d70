-- Per user_id the newest event, user.deleted included: event_time, then the user's
-- updated_at, then created < updated < deleted. Incremental (see macros/incremental.sql).
{{ config(alias='int_users', materialized='incremental', unique_key='user_id', incremental_strategy='delete+insert',
          indexes=key_indexes(['user_id'])) }}
{{ newest_events(
    [('user_created', 1), ('user_updated', 2), ('user_deleted', 3)],
    keys=[('user_id', ['user_id'])],
    updated_at=to_timestamp(json_text('payload', ['updated_at'])),
) }}
