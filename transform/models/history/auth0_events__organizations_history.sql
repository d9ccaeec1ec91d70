-- Every version of every organization: one row per organization.created / .updated event,
-- valid until the organization's next event; organization.deleted ends the last version.
{{ config(alias='organizations_history', materialized='incremental', unique_key='organization_id', incremental_strategy='replace_keys',
          indexes=history_indexes(['organization_id'])) }}
with
{{ history_versions('organization') }}
{{ history_rows(['organization_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ organization_attributes('versions.payload') ~ ",
    versions.created_at,
    versions.valid_from as updated_at,
    versions.payload as organization_object,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
