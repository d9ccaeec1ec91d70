-- Every version of every group membership: one row per group.member.added, valid until the
-- pair's next event; group.member.deleted ends it.
{{ config(alias='group_members_history', materialized='incremental', unique_key=['group_id', 'member_id'], incremental_strategy='replace_keys',
          indexes=history_indexes(['group_id', 'member_id'])) }}
with
{{ history_versions('group_member') }}
{{ history_rows(['group_id', 'member_id'], "
    versions.valid_from,
    versions.valid_to,
    " ~ json_text('versions.payload', ['member', 'member_type']) ~ " as member_type,
    " ~ json_text('versions.payload', ['member', 'type']) ~ " as connection_type,
    " ~ json_text('versions.payload', ['group', 'type']) ~ " as group_type,
    versions.valid_from as added_at,
    versions.event_id,
    versions.event_type,
    versions.ended_by_reconciliation,
    versions.applied_at") }}
