-- Connections that exist now: per connection id the newest connection.created / .updated /
-- .deleted event wins (connection objects carry no timestamps, so event_time decides), and
-- connection.deleted or reconciliation (no version of connections_history in effect) ends one.
-- Any strategy is kept; options and metadata stay whole (JSON). Incremental: a run replaces the
-- connections whose newest event or history changed.
{{ config(alias='current_connections', materialized='incremental', unique_key='connection_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['connection_id'])) }}
select
    connection_id,
    {{ connection_attributes('payload') }},
    created_at,
    event_time as updated_at,
    payload as connection_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    greatest(applied_at, history_applied_at) as applied_at
    {{- gone_when("not exists_now") }}
from {{ entity_now(ref('auth0_events__int_connections'), ref('auth0_events__connections_history'), 'connection_id') }}
