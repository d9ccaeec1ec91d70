-- Connections enabled for organizations now: per (organization, connection) the newest
-- organization.connection.added / .updated / .removed event wins (the payload carries no
-- timestamps, so event_time decides), and .removed ends one. The settings are those of that
-- event; a setting the event leaves out (older API versions send no is_enabled or
-- organization_access_level) is NULL. Deleting the organization ends it (its history has no
-- version in effect then), as Auth0 removes it with the organization. Incremental: a run replaces the pairs whose newest event
-- changed.
{{ config(alias='current_organization_connections', materialized='incremental', unique_key=['organization_id', 'connection_id'],
          incremental_strategy='replace_keys', indexes=key_indexes(['organization_id', 'connection_id'])) }}
{%- set watermark_at = watermark() %}
{%- set history = ref('auth0_events__organization_connections_history') %}
select
    connections.organization_id,
    connections.connection_id,
    {{ organization_connection_settings('connections.payload') }},
    connections.created_at as added_at,
    connections.event_time as updated_at,
    connections.event_id as last_event_id,
    connections.event_type as last_event_type,
    connections.event_time as last_event_time,
    greatest(connections.applied_at, in_effect.applied_at) as applied_at
    {{- gone_when("connections.event_type = 'organization.connection.removed' or in_effect.organization_id is null") }}
from {{ ref('auth0_events__int_organization_connections') }} as connections
left join {{ in_effect(history, ['organization_id', 'connection_id']) }} as in_effect
    on in_effect.organization_id = connections.organization_id and in_effect.connection_id = connections.connection_id
{%- if is_incremental() %}
where connections.applied_at > {{ watermark_at }}
   or exists (
       select 1 from ({{ history_changed(history, ['organization_id', 'connection_id'], watermark_at) }}) as changed
       where changed.organization_id = connections.organization_id and changed.connection_id = connections.connection_id
   )
{%- else %}
where connections.event_type <> 'organization.connection.removed' and in_effect.organization_id is not null
{%- endif %}
