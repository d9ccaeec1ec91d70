-- Per (organization, user, role) the newest organization.member.role.assigned / .deleted event.
-- Incremental.
{{ config(alias='int_organization_member_roles', materialized='incremental', unique_key=['organization_id', 'user_id', 'role_id'],
          incremental_strategy='delete+insert',
          indexes=key_indexes(['organization_id', 'user_id', 'role_id'])) }}
{{ newest_events(
    [('organization_member_role_assigned', 1), ('organization_member_role_deleted', 2)],
    keys=[('organization_id', ['organization', 'id']), ('user_id', ['user', 'user_id']), ('role_id', ['role', 'id'])],
) }}
