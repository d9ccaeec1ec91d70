{#-
  Finding what is new without reading the whole history.

  Each raw table gets a column `_auth0_events_loaded` whose default is the next value of one
  sequence (`auth0_events_loaded_sequence`, in the raw tables' schema), added at the start of
  every dbt run (on-run-start) to every raw table that lacks it (a table the loader has just
  created, or one of an older version: its rows get values then). The loaders insert new events
  with an explicit column list, so each new row draws a value from the sequence; re-delivered
  copies (an UPDATE) keep theirs. So the rows a run has not seen are among those above the
  highest value it recorded (int_seen_events.loaded), and a filter on that literal lets DuckDB
  skip the row groups of older rows by their min/max, payload included, and PostgreSQL read
  them through an index on the column (created with it).

  "Above the highest value recorded" is only exact if no row with a lower value can still
  appear. On DuckDB it cannot: a DuckDB file has one writer at a time, so the loader and dbt
  never run at once. On PostgreSQL the loader may be inserting while dbt runs, and a
  transaction that drew lower values may commit after one that drew higher ones (the loader
  writes several tables): int_seen_events therefore locks the raw tables in SHARE mode in its
  own transaction before it reads them (a pre-hook), which waits for every write in flight to
  commit and holds new ones back until it commits, a fraction of a second (target-postgres
  writes one table per transaction, so the wait cannot deadlock). Its anti-join on event_id
  stays, over the rows above the value only.

  A table without the column (on PostgreSQL: one the dbt role does not own, so it cannot add
  it) is read whole, with the anti-join on event_id (the primary key's index serves the
  lookups).
-#}

{% macro load_marker() -%}_auth0_events_loaded{%- endmacro %}


{# The raw tables (of `tables`) that carry the load marker, as a list (DuckDB and PostgreSQL; none elsewhere). #}
{% macro marked_tables(tables) -%}
  {%- if not execute or target.type not in ('duckdb', 'postgres') -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set relation = source('auth0_events', tables[0]) -%}
  {%- set found = run_query(
      "select table_name from information_schema.columns where table_schema = '" ~ relation.schema
      ~ "' and column_name = '" ~ load_marker() ~ "'") -%}
  {%- set names = found.columns[0].values() | list -%}
  {{ return(tables | select('in', names) | list) }}
{%- endmacro %}


{# The on-run-start hook (dbt_project.yml): the sequence, and the marker column on every raw table that lacks it. #}
{% macro add_load_markers() -%}
  {%- if execute and target.type in ('duckdb', 'postgres') -%}
    {%- set marked = marked_tables(event_tables()) -%}
    {%- for table_name in event_tables() if table_name not in marked -%}
      {%- set relation = load_relation(source('auth0_events', table_name)) -%}
      {%- if relation is not none and can_add_load_marker(relation) -%}
        {%- set sequence = relation.schema ~ '.auth0_events_loaded_sequence' -%}
        {%- do run_query('create sequence if not exists ' ~ sequence) -%}
        {%- do run_query('alter table ' ~ relation ~ ' add column ' ~ load_marker()
                         ~ " bigint default nextval('" ~ sequence ~ "')") -%}
        {%- if target.type == 'postgres' -%}
          {%- do run_query('create index if not exists ' ~ adapter.quote(relation.identifier ~ load_marker())
                           ~ ' on ' ~ relation ~ ' (' ~ load_marker() ~ ')') -%}
          {#- Statistics of the new column: without them the planner guesses that a third of the
              rows are above a marker, and reads the whole table instead of the index. -#}
          {%- do run_query('analyze ' ~ relation ~ ' (' ~ load_marker() ~ ')') -%}
          {%- do run_query('commit') -%}
        {%- endif -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  select 1
{%- endmacro %}


{# Whether this dbt role may add the column: on PostgreSQL only a table's owner may. #}
{% macro can_add_load_marker(relation) -%}
  {%- if target.type != 'postgres' -%}
    {{ return(true) }}
  {%- endif -%}
  {%- set found = run_query(
      "select pg_has_role(current_user, tableowner, 'USAGE') from pg_tables where schemaname = '"
      ~ relation.schema ~ "' and tablename = '" ~ relation.identifier ~ "'") -%}
  {{ return(found.rows | length == 1 and found.rows[0][0]) }}
{%- endmacro %}


{#
  The int_seen_events pre-hook on PostgreSQL: the raw tables that carry the marker, locked in
  SHARE mode until the model's transaction commits (see above). Nothing on DuckDB.
#}
{% macro lock_marked_tables() -%}
  {%- set marked = marked_tables(event_tables()) if target.type == 'postgres' else [] -%}
  {%- if marked -%}
    lock table
    {%- for table_name in marked %} {{ source('auth0_events', table_name) }}{{ ',' if not loop.last }}{% endfor %}
    in share mode
  {%- else -%}
    select 1
  {%- endif -%}
{%- endmacro %}


{#
  For union_events: per marked table, the lowest marker among the events of that stream first
  seen after `seen_after` (a SQL expression), as a literal; 'none' when no such event (the
  table contributes nothing); absent when some of them were recorded without a marker.
  Every raw row of such an event has a marker at least that high (markers never decrease).
#}
{% macro seen_marker_floors(tables, seen_after) -%}
  {%- set marked = marked_tables(tables) -%}
  {%- if not marked -%}
    {{ return({}) }}
  {%- endif -%}
  {%- set found = run_query(
      "select stream, min(loaded), count(*), count(loaded) from " ~ ref('auth0_events__int_seen_events')
      ~ " where seen_at > " ~ seen_after ~ " and stream in ('" ~ marked | join("', '") ~ "') group by stream") -%}
  {%- set floors = {} -%}
  {%- for table_name in marked -%}
    {%- do floors.update({table_name: 'none'}) -%}
  {%- endfor -%}
  {%- for row in found.rows -%}
    {%- if row[2] == row[3] -%}
      {%- do floors.update({row[0]: row[1] | string}) -%}
    {%- else -%}
      {%- do floors.pop(row[0]) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(floors) }}
{%- endmacro %}
