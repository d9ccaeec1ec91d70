-- Every event the history models read, one row per event, with its key taken out of the
-- payload (kind, key_1..key_3: see history_kinds() in macros/history.sql), its life-cycle step
-- (priority), the payload's updated_at where it ranks events, the payload, and applied_at (when
-- a dbt run first saw it). Test events are left out. Incremental: a run appends the events seen
-- since its last run.
{{ config(alias='int_history_events', materialized='incremental', incremental_strategy='append',
          indexes=([{'columns': ['kind', 'key_1', 'key_2', 'key_3']}, {'columns': ['applied_at']}]
                   if target.type == 'postgres' else [])) }}
{{ keyed_events(seen_after=watermark() if is_incremental() else none) }}
