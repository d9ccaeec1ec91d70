-- Every version of every organization membership: one row per organization.member.added,
-- valid until the pair's next event; organization.member.deleted ends it. The member's roles
-- over time are in organization_member_roles_history.
{{ config(alias='organization_members_history', materialized='incremental', unique_key=['organization_id', 'user_id'], incremental_strategy='replace_keys',
          indexes=history_indexes(['organization_id', 'user_id'])) }}
with
{{ history_versions('organization_member') }}
{{ history_rows(['organization_id', 'user_id'], "
    versions.valid_from,
    versions.valid_to,
    versions.valid_from as added_at,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
