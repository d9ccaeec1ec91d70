-- Roles assigned to groups now: per (group, role) the newest group.role.assigned / .deleted
-- event decides. As with group members, deleting the group does not end its roles by itself.
-- Incremental: a run replaces the pairs whose newest event changed.
{{ config(alias='current_group_roles', materialized='incremental', unique_key=['group_id', 'role_id'], incremental_strategy='replace_keys',
          indexes=key_indexes(['group_id', 'role_id'])) }}
{{ current_group_role_assignments(ref('auth0_events__int_group_roles'), ref('auth0_events__group_roles_history'), ['group_id', 'role_id'], 'group.role.deleted') }}
