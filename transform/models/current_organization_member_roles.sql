-- Roles current organization members hold: the newest event for (organization, user, role) is
-- an assignment, and the user is a member of the organization now.
select
    roles.organization_id,
    roles.user_id,
    roles.role_id,
    roles.role_name,
    roles.last_event_time as assigned_at,
    roles.last_event_id
from {{ ref('int_organization_member_roles') }} as roles
inner join {{ ref('int_organization_memberships') }} as memberships
    on memberships.organization_id = roles.organization_id
    and memberships.user_id = roles.user_id
where roles.is_assigned
  and memberships.is_member
