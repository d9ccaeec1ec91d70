-- Users at the end of each UTC day, and how many began to exist (created) and stopped
-- existing (deleted) that day, from users_history (see macros/daily.sql). Incremental: a run
-- recomputes the days from the earliest one its new events fall on.
{{ config(alias='daily_users', materialized='incremental', unique_key='date_day', incremental_strategy='delete+insert',
          indexes=daily_indexes(['date_day'])) }}
{{ daily_counts(ref('auth0_events__users_history'), 'user', ['user_id'], [], ('users', 'created', 'deleted')) }}
