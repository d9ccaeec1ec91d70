-- Every version of every role held in an organization: a role counts while its own events say
-- it is assigned (organization.member.role.assigned, until the next event of the key;
-- .role.deleted ends it) *and* the user is a member of the organization (a life of
-- organization_members_history), as in current_organization_member_roles: a version is the
-- overlap of the two. A member removed and added again holds the roles still assigned to them
-- again from the new addition on. Incremental: a run recomputes the roles whose own events or
-- whose membership's events it sees.
{{ config(alias='organization_member_roles_history', materialized='incremental', unique_key=['organization_id', 'user_id', 'role_id'],
          incremental_strategy='replace_keys', indexes=history_indexes(['organization_id', 'user_id', 'role_id'])) }}
{%- set membership_changed %}
    select distinct roles.key_1, roles.key_2, roles.key_3
    from {{ ref('auth0_events__int_history_events') }} as roles
    where roles.kind = 'organization_member_role'
      and exists (
          select 1 from {{ ref('auth0_events__int_history_events') }} as members
          where members.kind = 'organization_member'
            and members.applied_at > {{ watermark() }}
            and members.key_1 = roles.key_1
            and members.key_2 = roles.key_2
      )
{%- endset %}
with
{{ history_versions('organization_member_role', extra_touched=membership_changed if is_incremental() else none) }},

-- The membership's versions, joined into lives: a version that starts when the previous one
-- ends continues the same life.
memberships as (
    select
        members.organization_id,
        members.user_id,
        members.valid_from,
        members.valid_to,
        members.applied_at,
        case
            when lag(members.valid_to) over (
                partition by members.organization_id, members.user_id order by members.valid_from
            ) = members.valid_from then 0
            else 1
        end as starts_life
    from {{ ref('auth0_events__organization_members_history') }} as members
    where exists (
        select 1 from versions
        where versions.organization_id = members.organization_id and versions.user_id = members.user_id
    )
),

numbered as (
    select
        memberships.*,
        sum(starts_life) over (
            partition by organization_id, user_id order by valid_from rows between unbounded preceding and current row
        ) as life
    from memberships
),

lives as (
    select
        organization_id,
        user_id,
        min(valid_from) as valid_from,
        case when count(*) = count(valid_to) then max(valid_to) end as valid_to,
        max(applied_at) as applied_at
    from numbered
    group by organization_id, user_id, life
),

held as (
    select
        versions.organization_id,
        versions.user_id,
        versions.role_id,
        case when lives.valid_from > versions.valid_from then lives.valid_from else versions.valid_from end as valid_from,
        case
            when versions.valid_to is null then lives.valid_to
            when lives.valid_to is null then versions.valid_to
            when lives.valid_to < versions.valid_to then lives.valid_to
            else versions.valid_to
        end as valid_to,
        versions.valid_from as assigned_at,
        versions.payload,
        versions.event_id,
        versions.event_type,
        -- Ended by its own reconciliation, not earlier by the membership's end.
        coalesce(versions.ended_by_reconciliation and versions.valid_to <= coalesce(lives.valid_to, versions.valid_to), false)
            as ended_by_reconciliation,
        case when lives.applied_at > versions.applied_at then lives.applied_at else versions.applied_at end as applied_at
    from versions
    inner join lives
        on lives.organization_id = versions.organization_id
        and lives.user_id = versions.user_id
        and (lives.valid_to is null or versions.valid_from < lives.valid_to)
        and (versions.valid_to is null or lives.valid_from < versions.valid_to)
)

{{ history_rows(['organization_id', 'user_id', 'role_id'], "
    held.valid_from,
    held.valid_to,
    " ~ json_text('held.payload', ['role', 'name']) ~ " as role_name,
    held.assigned_at,
    held.event_id,
    held.event_type,
    held.ended_by_reconciliation,
    held.applied_at", rows='held') }}
