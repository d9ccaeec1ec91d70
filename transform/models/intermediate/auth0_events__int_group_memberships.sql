-- Per (group, member) the newest group.member.added / .deleted event. Incremental.
{{ config(alias='int_group_memberships', materialized='incremental', unique_key=['group_id', 'member_id'],
          incremental_strategy='delete+insert', indexes=key_indexes(['group_id', 'member_id'], lookups=['member_id'])) }}
{{ newest_events_of('group_member') }}
