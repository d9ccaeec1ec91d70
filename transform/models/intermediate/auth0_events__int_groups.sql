-- Per group id the newest event, group.deleted included: event_time, then the group's
-- updated_at (created_at for group.created, which lacks it), then the life-cycle step. Incremental.
{{ config(alias='int_groups', materialized='incremental', unique_key='group_id', incremental_strategy='delete+insert',
          indexes=key_indexes(['group_id'])) }}
{{ newest_events(
    [('group_created', 1), ('group_updated', 2), ('group_deleted', 3)],
    keys=[('group_id', ['id'])],
    updated_at='coalesce(' ~ to_timestamp(json_text('payload', ['updated_at'])) ~ ', '
               ~ to_timestamp(json_text('payload', ['created_at'])) ~ ')',
) }}
