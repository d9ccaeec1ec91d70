-- Per (group, member) the newest group.member.added / .deleted event. Incremental.
{{ config(alias='int_group_memberships', materialized='incremental', unique_key=['group_id', 'member_id'],
          incremental_strategy='delete+insert', indexes=key_indexes(['group_id', 'member_id'], lookups=['member_id'])) }}
{{ newest_events(
    [('group_member_added', 1), ('group_member_deleted', 2)],
    keys=[('group_id', ['group', 'id']), ('member_id', ['member', 'id'])],
) }}
