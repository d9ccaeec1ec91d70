-- Organizations that exist now: per organization id the newest event wins (organizations carry
-- no updated_at, so event_time decides), and organization.deleted ends one. Incremental.
{{ config(alias='current_organizations', materialized='incremental', unique_key='organization_id', incremental_strategy='replace_keys',
          indexes=key_indexes(['organization_id'])) }}
select
    organization_id,
    {{ organization_attributes('payload') }},
    created_at,
    event_time as updated_at,
    payload as organization_object,
    event_id as last_event_id,
    event_type as last_event_type,
    event_time as last_event_time,
    applied_at
    {{- gone_when("event_type = 'organization.deleted'") }}
from {{ ref('auth0_events__int_organizations') }}
{%- if is_incremental() %}
where applied_at > {{ watermark() }}
{%- else %}
where event_type <> 'organization.deleted'
{%- endif %}
