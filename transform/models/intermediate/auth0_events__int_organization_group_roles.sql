-- Per (organization, group, role) the newest organization.group.role.assigned / .deleted event.
-- Incremental.
{{ config(alias='int_organization_group_roles', materialized='incremental', unique_key=['organization_id', 'group_id', 'role_id'],
          incremental_strategy='delete+insert',
          indexes=key_indexes(['organization_id', 'group_id', 'role_id'])) }}
{{ newest_events_of('organization_group_role') }}
