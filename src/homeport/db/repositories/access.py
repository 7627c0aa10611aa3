"""Organizations, memberships, teams and grants."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import (
    GrantRow,
    MembershipRow,
    OrganizationRow,
    TeamMemberRow,
    TeamRow,
    UserRow,
)
from homeport.domain.access import (
    Grant,
    GrantPermission,
    Membership,
    Organization,
    OrgRole,
    SubjectType,
    Team,
)
from homeport.domain.ids import new_id
from homeport.domain.users import Principal
from homeport.errors import Conflict


def _org(row: OrganizationRow) -> Organization:
    return Organization(
        id=row.id, name=row.name, display_name=row.display_name, created_at=row.created_at
    )


def _team(row: TeamRow) -> Team:
    return Team(id=row.id, org_id=row.org_id, name=row.name, created_at=row.created_at)


def _grant(row: GrantRow) -> Grant:
    return Grant(
        id=row.id,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        subject_type=SubjectType(row.subject_type),
        subject_id=row.subject_id,
        permission=GrantPermission(row.permission),
        created_by=row.created_by,
        created_at=row.created_at,
    )


class OrgRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, *, name: str, display_name: str) -> Organization:
        row = OrganizationRow(id=new_id("org"), name=name, display_name=display_name)
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(f"an organization named '{name}' already exists", param="name") from exc
        return _org(row)

    async def get(self, ref: str) -> Organization | None:
        """By id or by name."""
        row = await self.session.scalar(
            select(OrganizationRow).where(
                or_(OrganizationRow.id == ref, OrganizationRow.name == ref)
            )
        )
        return _org(row) if row else None

    async def find(self, ids: Iterable[str] | None = None) -> list[Organization]:
        query = select(OrganizationRow).order_by(OrganizationRow.name)
        if ids is not None:
            query = query.where(OrganizationRow.id.in_(list(ids)))
        return [_org(r) for r in await self.session.scalars(query)]

    async def delete(self, org_id: str) -> None:
        await self.session.execute(delete(OrganizationRow).where(OrganizationRow.id == org_id))

    async def update(self, org_id: str, *, display_name: str) -> Organization | None:
        await self.session.execute(
            update(OrganizationRow)
            .where(OrganizationRow.id == org_id)
            .values(display_name=display_name)
        )
        return await self.get(org_id)

    # -- memberships ---------------------------------------------------------------------

    async def set_member(self, org_id: str, user_id: str, role: OrgRole) -> Membership:
        row = await self.session.get(MembershipRow, (org_id, user_id))
        if row is None:
            row = MembershipRow(org_id=org_id, user_id=user_id, role=role.value)
            self.session.add(row)
        else:
            row.role = role.value
        await self.session.flush()
        return Membership(org_id=org_id, user_id=user_id, role=role)

    async def remove_member(self, org_id: str, user_id: str) -> bool:
        result = await self.session.execute(
            delete(MembershipRow).where(
                MembershipRow.org_id == org_id, MembershipRow.user_id == user_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def members(self, org_id: str) -> list[Membership]:
        rows = await self.session.scalars(
            select(MembershipRow)
            .where(MembershipRow.org_id == org_id)
            .order_by(MembershipRow.user_id)
        )
        return [Membership(r.org_id, r.user_id, OrgRole(r.role)) for r in rows]

    async def member(self, org_id: str, user_id: str) -> Membership | None:
        row = await self.session.get(MembershipRow, (org_id, user_id))
        return Membership(row.org_id, row.user_id, OrgRole(row.role)) if row else None

    async def count_role(self, org_id: str, role: OrgRole) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(MembershipRow)
            .where(MembershipRow.org_id == org_id, MembershipRow.role == role.value)
        )
        return int(count or 0)

    async def sizes(self, org_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """How many members and teams each organization has, by id (counted in the database)."""
        ids = list(org_ids)
        members = await self.session.execute(
            select(MembershipRow.org_id, func.count())
            .where(MembershipRow.org_id.in_(ids))
            .group_by(MembershipRow.org_id)
        )
        teams = await self.session.execute(
            select(TeamRow.org_id, func.count())
            .where(TeamRow.org_id.in_(ids))
            .group_by(TeamRow.org_id)
        )
        counted_members: dict[str, int] = {org_id: count for org_id, count in members}
        counted_teams: dict[str, int] = {org_id: count for org_id, count in teams}
        return {i: (counted_members.get(i, 0), counted_teams.get(i, 0)) for i in ids}

    async def members_named(self, org_id: str) -> list[tuple[Membership, str]]:
        """The members with their user names, by name."""
        rows = await self.session.execute(
            select(MembershipRow, UserRow.name)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.org_id == org_id)
            .order_by(UserRow.name)
        )
        return [(Membership(m.org_id, m.user_id, OrgRole(m.role)), name) for m, name in rows]

    async def share_an_org(self, user_id: str, other_user_id: str) -> bool:
        theirs = select(MembershipRow.org_id).where(MembershipRow.user_id == other_user_id)
        found = await self.session.scalar(
            select(MembershipRow.org_id)
            .where(MembershipRow.user_id == user_id, MembershipRow.org_id.in_(theirs))
            .limit(1)
        )
        return found is not None

    async def memberships_of(self, user_id: str) -> list[Membership]:
        rows = await self.session.scalars(
            select(MembershipRow).where(MembershipRow.user_id == user_id)
        )
        return [Membership(r.org_id, r.user_id, OrgRole(r.role)) for r in rows]


class TeamRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, *, org_id: str, name: str) -> Team:
        row = TeamRow(id=new_id("team"), org_id=org_id, name=name)
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"this organization already has a team named '{name}'", param="name"
            ) from exc
        return _team(row)

    async def get(self, team_id: str) -> Team | None:
        row = await self.session.get(TeamRow, team_id)
        return _team(row) if row else None

    async def named(self, name: str, *, org_ids: Iterable[str] | None = None) -> list[Team]:
        """Teams called `name`, in the given organizations (None: in any)."""
        query = select(TeamRow).where(TeamRow.name == name).order_by(TeamRow.id)
        if org_ids is not None:
            query = query.where(TeamRow.org_id.in_(list(org_ids)))
        return [_team(r) for r in await self.session.scalars(query)]

    async def rename(self, team_id: str, name: str) -> Team | None:
        try:
            await self.session.execute(
                update(TeamRow).where(TeamRow.id == team_id).values(name=name)
            )
        except IntegrityError as exc:
            raise Conflict(
                f"this organization already has a team named '{name}'", param="name"
            ) from exc
        return await self.get(team_id)

    async def in_org(self, org_id: str) -> list[Team]:
        rows = await self.session.scalars(
            select(TeamRow).where(TeamRow.org_id == org_id).order_by(TeamRow.name)
        )
        return [_team(r) for r in rows]

    async def delete(self, team_id: str) -> None:
        await self.session.execute(delete(TeamRow).where(TeamRow.id == team_id))

    async def add_member(self, team_id: str, user_id: str) -> None:
        if await self.session.get(TeamMemberRow, (team_id, user_id)) is None:
            self.session.add(TeamMemberRow(team_id=team_id, user_id=user_id))
            await self.session.flush()

    async def remove_member(self, team_id: str, user_id: str) -> bool:
        result = await self.session.execute(
            delete(TeamMemberRow).where(
                TeamMemberRow.team_id == team_id, TeamMemberRow.user_id == user_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def members_named(self, team_id: str) -> list[tuple[str, str]]:
        """(user id, user name) of the team's members, by name."""
        rows = await self.session.execute(
            select(TeamMemberRow.user_id, UserRow.name)
            .join(UserRow, UserRow.id == TeamMemberRow.user_id)
            .where(TeamMemberRow.team_id == team_id)
            .order_by(UserRow.name)
        )
        return [(user_id, name) for user_id, name in rows]

    async def leave_org_teams(self, org_id: str, user_id: str) -> None:
        """Take a user out of every team of an organization (they left it)."""
        teams = select(TeamRow.id).where(TeamRow.org_id == org_id)
        await self.session.execute(
            delete(TeamMemberRow).where(
                TeamMemberRow.user_id == user_id, TeamMemberRow.team_id.in_(teams)
            )
        )

    async def member_ids(self, team_id: str) -> list[str]:
        rows = await self.session.scalars(
            select(TeamMemberRow.user_id)
            .where(TeamMemberRow.team_id == team_id)
            .order_by(TeamMemberRow.user_id)
        )
        return list(rows)

    async def team_ids_of(self, user_id: str) -> list[str]:
        return list(
            await self.session.scalars(
                select(TeamMemberRow.team_id).where(TeamMemberRow.user_id == user_id)
            )
        )


class GrantRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self,
        *,
        resource_type: str,
        resource_id: str,
        subject_type: SubjectType,
        subject_id: str,
        permission: GrantPermission,
        created_by: str | None,
    ) -> Grant:
        row = await self.session.scalar(
            select(GrantRow).where(
                GrantRow.resource_type == resource_type,
                GrantRow.resource_id == resource_id,
                GrantRow.subject_type == subject_type.value,
                GrantRow.subject_id == subject_id,
            )
        )
        if row is None:
            row = GrantRow(
                id=new_id("grant"),
                resource_type=resource_type,
                resource_id=resource_id,
                subject_type=subject_type.value,
                subject_id=subject_id,
                created_by=created_by,
            )
            self.session.add(row)
        row.permission = permission.value
        await self.session.flush()
        return _grant(row)

    async def get(self, grant_id: str) -> Grant | None:
        row = await self.session.get(GrantRow, grant_id)
        return _grant(row) if row else None

    async def of_type(self, resource_type: str) -> list[Grant]:
        rows = await self.session.scalars(
            select(GrantRow).where(GrantRow.resource_type == resource_type).order_by(GrantRow.id)
        )
        return [_grant(r) for r in rows]

    async def for_resource(self, resource_type: str, resource_id: str) -> list[Grant]:
        rows = await self.session.scalars(
            select(GrantRow)
            .where(GrantRow.resource_type == resource_type, GrantRow.resource_id == resource_id)
            .order_by(GrantRow.id)
        )
        return [_grant(r) for r in rows]

    async def delete(self, grant_id: str) -> bool:
        result = await self.session.execute(delete(GrantRow).where(GrantRow.id == grant_id))
        return bool(getattr(result, "rowcount", 0))

    async def delete_for_resource(self, resource_type: str, resource_id: str) -> None:
        await self.session.execute(
            delete(GrantRow).where(
                GrantRow.resource_type == resource_type, GrantRow.resource_id == resource_id
            )
        )

    async def delete_for_subject(self, subject_type: SubjectType, subject_id: str) -> None:
        await self.session.execute(
            delete(GrantRow).where(
                GrantRow.subject_type == subject_type.value, GrantRow.subject_id == subject_id
            )
        )


def granted_to(
    principal: Principal, *, resource_type: str, permission: GrantPermission | None = None
) -> ColumnElement[bool]:
    """A filter for the ids of resources of `resource_type` shared with the principal.

    Used inside queries (`Row.id.in_(select(GrantRow.resource_id).where(...))`), so that
    authorization happens in the database, not after it.
    """
    subjects = [
        and_(
            GrantRow.subject_type == SubjectType.USER.value,
            GrantRow.subject_id == principal.user_id,
        )
    ]
    if principal.team_ids:
        subjects.append(
            and_(
                GrantRow.subject_type == SubjectType.TEAM.value,
                GrantRow.subject_id.in_(principal.team_ids),
            )
        )
    if principal.org_ids:
        subjects.append(
            and_(
                GrantRow.subject_type == SubjectType.ORG.value,
                GrantRow.subject_id.in_(principal.org_ids),
            )
        )
    clause = and_(GrantRow.resource_type == resource_type, or_(*subjects) if subjects else false())
    if permission is GrantPermission.EDIT:
        clause = and_(clause, GrantRow.permission == GrantPermission.EDIT.value)
    return clause
