-- Roles groups hold in organizations now: per (organization, group, role) the newest
-- organization.group.role.assigned / .deleted event decides. Deleting the group or the
-- organization does not end them by itself. Incremental: a run replaces the keys whose newest
-- event changed.
{{ config(alias='current_organization_group_roles', materialized='incremental', unique_key=['organization_id', 'group_id', 'role_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['organization_id', 'group_id', 'role_id'])) }}
{{ current_group_role_assignments(ref('auth0_events__int_organization_group_roles'), ref('auth0_events__organization_group_roles_history'), ['organization_id', 'group_id', 'role_id'], 'organization.group.role.deleted') }}
