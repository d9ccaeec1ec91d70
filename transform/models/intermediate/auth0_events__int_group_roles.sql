-- Per (group, role) the newest group.role.assigned / .deleted event. Incremental.
{{ config(alias='int_group_roles', materialized='incremental', unique_key=['group_id', 'role_id'],
          incremental_strategy='delete+insert', indexes=key_indexes(['group_id', 'role_id'])) }}
{{ newest_events_of('group_role') }}
