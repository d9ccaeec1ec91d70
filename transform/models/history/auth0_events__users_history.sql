-- Every version of every user: one row per user.created / user.updated event, valid until the
-- user's next event (see macros/history.sql); user.deleted ends the last version.
{{ config(alias='users_history', materialized='incremental', unique_key='user_id', incremental_strategy='replace_keys',
          indexes=history_indexes(['user_id'])) }}
with
{{ history_versions('user') }}
{{ history_rows(['user_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ user_attributes('versions.payload') ~ ",
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
