-- Members of each organization at the end of each UTC day, from the day of its first
-- membership on, and how many memberships began (added) and ended (removed) that day, from
-- organization_members_history (see macros/daily.sql). Incremental, as daily_users.
{{ config(alias='daily_organization_members', materialized='incremental', unique_key=['date_day', 'organization_id'],
          incremental_strategy='delete+insert',
          indexes=daily_indexes(['date_day', 'organization_id'])) }}
{{ daily_counts(ref('auth0_events__organization_members_history'), 'organization_member', ['organization_id', 'user_id'], ['organization_id'],
                ('members', 'added', 'removed')) }}
