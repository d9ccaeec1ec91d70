{#-
  PostgreSQL's statistics of the models' tables.

  A table dbt has just built (a first run, or --full-refresh) has no statistics until autovacuum
  analyzes it, which may be minutes later. Until then the planner guesses that a third of its
  rows match any range (`applied_at > ...`, `date_day >= ...`), and the next incremental run
  reads whole tables instead of their indexes. The on-run-end hook (dbt_project.yml) analyzes
  the tables this run built that have none: once after a full build, a catalog query otherwise.
  Later changes are left to autovacuum. Nothing on DuckDB (its zone maps need no statistics).
-#}

{% macro analyze_new_tables(results) -%}
  {%- if execute and target.type == 'postgres' -%}
    {%- set built = [] -%}
    {%- for result in results
        if result.node.resource_type == 'model' and result.node.package_name == 'auth0_events'
           and result.status == 'success' -%}
      {%- do built.append(result.node) -%}
    {%- endfor -%}
    {%- for schema, nodes in built | groupby('schema') -%}
      {%- set found = run_query(
          "select tablename from pg_tables as tables where schemaname = '" ~ schema ~ "' and tablename in ('"
          ~ nodes | map(attribute='alias') | join("', '") ~ "') and not exists ("
          ~ "select 1 from pg_stats where pg_stats.schemaname = tables.schemaname and pg_stats.tablename = tables.tablename)") -%}
      {%- for table_name in found.columns[0].values() -%}
        {%- do run_query('analyze ' ~ adapter.quote(schema) ~ '.' ~ adapter.quote(table_name)) -%}
      {%- endfor -%}
    {%- endfor -%}
  {%- endif -%}
  select 1
{%- endmacro %}
