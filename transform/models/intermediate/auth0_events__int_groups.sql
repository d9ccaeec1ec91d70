-- Per group id the newest event, group.deleted included: event_time, then the group's
-- updated_at (created_at for group.created, which lacks it), then the life-cycle step. Incremental.
{{ config(alias='int_groups', materialized='incremental', unique_key='group_id', incremental_strategy='delete+insert',
          indexes=key_indexes(['group_id'])) }}
{{ newest_events_of('group') }}
