-- Every version of every connection: one row per connection.created / .updated event, valid
-- until the connection's next event; connection.deleted ends the last version.
{{ config(alias='connections_history', materialized='incremental', unique_key='connection_id', incremental_strategy='replace_keys',
          indexes=history_indexes(['connection_id'])) }}
with
{{ history_versions('connection') }}
{{ history_rows(['connection_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ connection_attributes('versions.payload') ~ ",
    versions.created_at,
    versions.valid_from as updated_at,
    versions.payload as connection_object,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
