-- Every version of every group: one row per group.created / .updated event, valid until the
-- group's next event; group.deleted ends the last version.
{{ config(alias='groups_history', materialized='incremental', unique_key='group_id', incremental_strategy='replace_keys',
          indexes=history_indexes(['group_id'])) }}
with
{{ history_versions('group') }}
{{ history_rows(['group_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ group_attributes('versions.payload') ~ ",
    versions.object_updated_at as updated_at,
    versions.payload as group_object,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
