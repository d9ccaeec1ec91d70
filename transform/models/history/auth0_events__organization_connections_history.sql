-- Every version of every organization connection: one row per organization.connection.added /
-- .updated event, valid until the pair's next event; organization.connection.removed ends it.
{{ config(alias='organization_connections_history', materialized='incremental', unique_key=['organization_id', 'connection_id'],
          incremental_strategy='replace_keys', indexes=history_indexes(['organization_id', 'connection_id'])) }}
with
{{ history_versions('organization_connection') }}
{{ history_rows(['organization_id', 'connection_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ organization_connection_settings('versions.payload') ~ ",
    versions.created_at as added_at,
    versions.valid_from as updated_at,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
