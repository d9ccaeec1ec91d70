-- Per (organization, user) the newest organization.member.added / .deleted event. A deletion
-- stamped with the same time as an addition wins. Incremental.
{{ config(alias='int_organization_memberships', materialized='incremental', unique_key=['organization_id', 'user_id'],
          incremental_strategy='delete+insert', indexes=key_indexes(['organization_id', 'user_id'], lookups=['user_id'])) }}
{{ newest_events_of('organization_member') }}
