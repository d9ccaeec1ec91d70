-- Organizations that exist now: per organization id the newest event wins (organizations carry
-- no updated_at, so event_time decides), and organization.deleted or reconciliation (no version
-- of organizations_history in effect) ends one. Incremental.
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
    greatest(applied_at, history_applied_at) as applied_at
    {{- gone_when("not exists_now") }}
from {{ entity_now(ref('auth0_events__int_organizations'), ref('auth0_events__organizations_history'), 'organization_id') }}
