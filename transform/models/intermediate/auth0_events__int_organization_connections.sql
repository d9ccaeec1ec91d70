-- Per (organization, connection) the newest organization.connection.added / .updated / .removed
-- event (no timestamps in the payload: event_time, then added < updated < removed), and
-- created_at, the time of the newest organization.connection.added. Incremental.
{{ config(alias='int_organization_connections', materialized='incremental', unique_key=['organization_id', 'connection_id'],
          incremental_strategy='delete+insert', indexes=key_indexes(['organization_id', 'connection_id'])) }}
{{ newest_events_of('organization_connection') }}
