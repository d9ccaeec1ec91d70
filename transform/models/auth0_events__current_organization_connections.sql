-- Connections enabled for organizations now: per (organization, connection) the newest
-- organization.connection.added / .updated / .removed event wins (the payload carries no
-- timestamps, so event_time decides), and .removed ends one. The settings are those of that
-- event; a setting the event leaves out (older API versions send no is_enabled or
-- organization_access_level) is NULL. As with memberships, deleting the organization or the
-- connection does not end it by itself. Incremental: a run replaces the pairs whose newest event
-- changed.
{{ config(alias='current_organization_connections', materialized='incremental', unique_key=['organization_id', 'connection_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['organization_id', 'connection_id'])) }}
select
    organization_id,
    connection_id,
    {{ organization_connection_settings('payload') }},
    created_at as added_at,
    event_time as updated_at,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    applied_at
    {{- gone_when("event_type = 'organization.connection.removed'") }}
from {{ ref('auth0_events__int_organization_connections') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type <> 'organization.connection.removed'
{%- endif %}
