-- Every version of every organization group role: one row per organization.group.role.assigned,
-- valid until the key's next event; organization.group.role.deleted ends it.
{{ config(alias='organization_group_roles_history', materialized='incremental', unique_key=['organization_id', 'group_id', 'role_id'],
          incremental_strategy='replace_keys', indexes=history_indexes(['organization_id', 'group_id', 'role_id'])) }}
with
{{ history_versions('organization_group_role') }}
{{ history_rows(['organization_id', 'group_id', 'role_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ group_role_attributes('versions.payload') ~ ",
    versions.valid_from as assigned_at,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
