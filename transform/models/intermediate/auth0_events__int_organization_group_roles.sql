-- Per (organization, group, role) the newest organization.group.role.assigned / .deleted event.
-- Incremental.
{{ config(alias='int_organization_group_roles', materialized='incremental', unique_key=['organization_id', 'group_id', 'role_id'],
          incremental_strategy='delete+insert',
          indexes=key_indexes(['organization_id', 'group_id', 'role_id'])) }}
{{ newest_events(
    [('organization_group_role_assigned', 1), ('organization_group_role_deleted', 2)],
    keys=[('organization_id', ['organization', 'id']), ('group_id', ['group', 'id']), ('role_id', ['role', 'id'])],
) }}
