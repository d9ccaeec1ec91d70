-- Groups that exist now: per group id the newest event (event_time, then the group's
-- updated_at, which group.created lacks) wins, and group.deleted or reconciliation (no version
-- of groups_history in effect) ends a group. Incremental.
{{ config(alias='current_groups', materialized='incremental', unique_key='group_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['group_id'])) }}
select
    group_id,
    {{ group_attributes('payload') }},
    object_updated_at as updated_at,
    payload as group_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    greatest(applied_at, history_applied_at) as applied_at
    {{- gone_when("not exists_now") }}
from {{ entity_now(ref('auth0_events__int_groups'), ref('auth0_events__groups_history'), 'group_id') }}
