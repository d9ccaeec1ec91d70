{#-
  The attributes of each entity and relation, read from one event's payload: written once here,
  so that a current_* model and its *_history model break out the same columns the same way.
-#}

{% macro user_attributes(payload) -%}
    {{ json_text(payload, ['email']) }} as email,
    cast({{ json_text(payload, ['email_verified']) }} as boolean) as email_verified,
    {{ json_text(payload, ['username']) }} as username,
    {{ json_text(payload, ['name']) }} as name,
    {{ json_text(payload, ['nickname']) }} as nickname,
    {{ json_text(payload, ['given_name']) }} as given_name,
    {{ json_text(payload, ['family_name']) }} as family_name,
    {{ json_text(payload, ['phone_number']) }} as phone_number,
    coalesce(cast({{ json_text(payload, ['blocked']) }} as boolean), false) as blocked,
    cast({{ json_text(payload, ['logins_count']) }} as bigint) as logins_count,
    {{ to_timestamp(json_text(payload, ['last_login'])) }} as last_login,
    {{ to_timestamp(json_text(payload, ['created_at'])) }} as created_at,
    {{ to_timestamp(json_text(payload, ['updated_at'])) }} as updated_at,
    {{ json_value(payload, ['identities']) }} as identities,
    {{ json_value(payload, ['app_metadata']) }} as app_metadata,
    {{ json_value(payload, ['user_metadata']) }} as user_metadata,
    {{ payload }} as user_object
{%- endmacro %}


{% macro organization_attributes(payload) -%}
    {{ json_text(payload, ['name']) }} as name,
    {{ json_text(payload, ['display_name']) }} as display_name,
    {{ json_value(payload, ['metadata']) }} as metadata,
    {{ json_value(payload, ['branding']) }} as branding
{%- endmacro %}


{% macro group_attributes(payload) -%}
    {{ json_text(payload, ['name']) }} as name,
    {{ json_text(payload, ['type']) }} as group_type,
    {{ json_text(payload, ['external_id']) }} as external_id,
    {{ json_text(payload, ['connection_id']) }} as connection_id,
    {{ json_text(payload, ['organization_id']) }} as organization_id,
    {{ to_timestamp(json_text(payload, ['created_at'])) }} as created_at
{%- endmacro %}


{% macro connection_attributes(payload) -%}
    {{ json_text(payload, ['name']) }} as name,
    {{ json_text(payload, ['display_name']) }} as display_name,
    {{ json_text(payload, ['strategy']) }} as strategy,
    cast({{ json_text(payload, ['is_domain_connection']) }} as boolean) as is_domain_connection,
    cast({{ json_text(payload, ['show_as_button']) }} as boolean) as show_as_button,
    cast({{ json_text(payload, ['authentication', 'active']) }} as boolean) as authentication_active,
    {{ json_value(payload, ['enabled_clients']) }} as enabled_clients,
    {{ json_value(payload, ['realms']) }} as realms,
    {{ json_value(payload, ['metadata']) }} as metadata,
    {{ json_value(payload, ['options']) }} as options
{%- endmacro %}


{# The settings of an organization.connection.added / .updated event (NULL when left out). #}
{% macro organization_connection_settings(payload) -%}
    cast({{ json_text(payload, ['assign_membership_on_login']) }} as boolean) as assign_membership_on_login,
    cast({{ json_text(payload, ['show_as_button']) }} as boolean) as show_as_button,
    cast({{ json_text(payload, ['is_signup_enabled']) }} as boolean) as is_signup_enabled,
    cast({{ json_text(payload, ['is_enabled']) }} as boolean) as is_enabled,
    {{ json_text(payload, ['organization_access_level']) }} as organization_access_level
{%- endmacro %}


{# A group's role assignment (group.role.assigned, organization.group.role.assigned). #}
{% macro group_role_attributes(payload) -%}
    {{ json_text(payload, ['role', 'name']) }} as role_name,
    {{ json_text(payload, ['group', 'type']) }} as group_type
{%- endmacro %}


{#
  The body of current_group_roles and current_organization_group_roles: the keys whose newest
  event (in `int_model`) is not `deleted_type` (an assignment, or a baseline's record of one) and
  whose history has a version in effect, with the assignment's columns.
#}
{% macro current_group_role_assignments(int_model, history, key_names, deleted_type) -%}
{%- set watermark_at = watermark() %}
select
    {% for name in key_names %}assignments.{{ name }},
    {% endfor -%}
    {{ group_role_attributes('assignments.payload') }},
    assignments.event_time as assigned_at,
    assignments.event_id as last_event_id,
    greatest(assignments.applied_at, in_effect.applied_at) as applied_at
    {{- gone_when("assignments.event_type = '" ~ deleted_type ~ "' or in_effect." ~ key_names[0] ~ " is null") }}
from {{ int_model }} as assignments
left join {{ in_effect(history, key_names) }} as in_effect
    on {{ same_key(key_names, 'in_effect', 'assignments') }}
{%- if is_incremental() %}
where assignments.applied_at > {{ watermark_at }}
   or exists (
       select 1 from ({{ history_changed(history, key_names, watermark_at) }}) as changed
       where {{ same_key(key_names, 'changed', 'assignments') }}
   )
{%- else %}
where assignments.event_type <> '{{ deleted_type }}' and in_effect.{{ key_names[0] }} is not null
{%- endif %}
{%- endmacro %}
