-- Connections that exist now: per connection id the newest connection.created / .updated /
-- .deleted event wins (connection objects carry no timestamps, so event_time decides), and
-- connection.deleted ends one. Any strategy is kept; options and metadata stay whole (JSON).
-- Incremental: a run replaces the connections whose newest event changed.
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
    applied_at
    {{- gone_when("event_type = 'connection.deleted'") }}
from {{ ref('auth0_events__int_connections') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type <> 'connection.deleted'
{%- endif %}
