-- Per organization id the newest event, organization.deleted included (organizations carry no
-- updated_at: event_time, then created < updated < deleted), and created_at, the time of the
-- newest organization.created (when its current life began). Incremental.
{{ config(alias='int_organizations', materialized='incremental', unique_key='organization_id', incremental_strategy='delete+insert',
          indexes=key_indexes(['organization_id'])) }}
{{ newest_events_of('organization') }}
