-- Per (organization, user, role) the newest organization.member.role.assigned / .deleted event.
-- Incremental.
{{ config(alias='int_organization_member_roles', materialized='incremental', unique_key=['organization_id', 'user_id', 'role_id'],
          incremental_strategy='delete+insert',
          indexes=key_indexes(['organization_id', 'user_id', 'role_id'])) }}
{{ newest_events_of('organization_member_role') }}
