-- Per connection id the newest event, connection.deleted included (connection objects carry no
-- timestamps: event_time, then created < updated < deleted), and created_at, the time of the
-- newest connection.created (when its current life began). Incremental.
{{ config(alias='int_connections', materialized='incremental', unique_key='connection_id', incremental_strategy='delete+insert',
          indexes=key_indexes(['connection_id'])) }}
{{ newest_events_of('connection') }}
