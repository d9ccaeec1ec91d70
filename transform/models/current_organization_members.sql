-- Organization memberships that exist now, with the member's roles. The newest
-- organization.member.added / .deleted event per (organization, user) decides. Deleting a user
-- or an organization does not end its memberships here (Auth0 sends organization.member.deleted
-- for that, and the emulator's world keeps them too): user_exists / organization_exists say
-- whether the user and the organization still exist.
with roles as (
    select
        organization_id,
        user_id,
        count(*) as role_count,
        {{ dbt.listagg('role_id', "','", 'order by role_id') }} as role_ids,
        {{ dbt.listagg('role_name', "','", 'order by role_id') }} as role_names
    from {{ ref('current_organization_member_roles') }}
    group by organization_id, user_id
)

select
    memberships.organization_id,
    memberships.user_id,
    coalesce(organizations.name, memberships.organization_name) as organization_name,
    users.email as user_email,
    memberships.last_event_time as added_at,
    coalesce(roles.role_count, 0) as role_count,
    roles.role_ids,
    roles.role_names,
    users.user_id is not null as user_exists,
    organizations.organization_id is not null as organization_exists,
    memberships.last_event_id
from {{ ref('int_organization_memberships') }} as memberships
left join roles
    on roles.organization_id = memberships.organization_id
    and roles.user_id = memberships.user_id
left join {{ ref('current_users') }} as users
    on users.user_id = memberships.user_id
left join {{ ref('current_organizations') }} as organizations
    on organizations.organization_id = memberships.organization_id
where memberships.is_member
