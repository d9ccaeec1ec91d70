-- Per user_id the newest event, user.deleted included: event_time, then the user's
-- updated_at, then created < updated < deleted. Incremental (see macros/incremental.sql).
{{ config(alias='int_users', materialized='incremental', unique_key='user_id', incremental_strategy='delete+insert',
          indexes=key_indexes(['user_id'])) }}
{{ newest_events_of('user') }}
