-- Every version of every group role: one row per group.role.assigned, valid until the pair's
-- next event; group.role.deleted ends it.
{{ config(alias='group_roles_history', materialized='incremental', unique_key=['group_id', 'role_id'], incremental_strategy='replace_keys',
          indexes=history_indexes(['group_id', 'role_id'])) }}
with
{{ history_versions('group_role') }}
{{ history_rows(['group_id', 'role_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ group_role_attributes('versions.payload') ~ ",
    versions.valid_from as assigned_at,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
