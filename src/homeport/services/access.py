"""Organizations, their members and roles, and teams.

Who may do what here (the route's permission is checked first, by `homeport.api.deps`):

    create or list every organization    platform admins
    see an organization, its members     its members (anyone else: 404, as if it did not exist)
    and teams
    rename it, manage members and teams  platform admins, its owners and admins
    make or unmake an owner, delete it   platform admins and its owners

An organization keeps at least one owner. Role and team changes take effect at once: the
affected user's cached principal is dropped (`Forgets`), and they are audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.engine import Database
from homeport.db.repositories import OrgRepository, TeamRepository, UserRepository
from homeport.domain.access import Organization, OrgRole, Team
from homeport.domain.users import Principal, User
from homeport.errors import InvalidRequest, NotFound, PermissionDenied
from homeport.services.audit import AuditService
from homeport.services.users import DEFAULT_ORG


class Forgets(Protocol):
    """A cache of principals (API keys, browser sessions) that must drop a user's."""

    def forget(self, user_id: str) -> None: ...


@dataclass(frozen=True, slots=True)
class OrgView:
    """An organization as a caller sees it, with the caller's role in it (if any) and how
    many members and teams it has."""

    org: Organization
    role: OrgRole | None
    members: int
    teams: int


@dataclass(frozen=True, slots=True)
class Member:
    user_id: str
    name: str
    role: OrgRole


@dataclass(frozen=True, slots=True)
class TeamView:
    team: Team
    members: list[tuple[str, str]]  # (user id, user name)


class AccessService:
    def __init__(self, db: Database, audit: AuditService, *, caches: Sequence[Forgets] = ()):
        self.db = db
        self.audit = audit
        self.caches = list(caches)

    # -- organizations --------------------------------------------------------------

    async def create_org(
        self, caller: Principal, *, name: str, display_name: str | None, owner: str | None
    ) -> OrgView:
        """A new organization (platform admins); `owner` (default: the caller) owns it."""
        if not caller.is_admin:
            raise PermissionDenied("only platform admins create organizations")
        async with self.db.transaction() as session:
            user = await _user(session, owner or caller.user_id)
            orgs = OrgRepository(session)
            org = await orgs.add(name=name, display_name=display_name or name)
            await orgs.set_member(org.id, user.id, OrgRole.OWNER)
            await self.audit.record(
                "org.created",
                actor=caller,
                target_type="org",
                target_id=org.id,
                details={"name": name, "owner": user.id},
                session=session,
            )
        self._forget(user.id)
        role = OrgRole.OWNER if user.id == caller.user_id else None
        return OrgView(org, role, members=1, teams=0)

    async def list_orgs(self, caller: Principal) -> list[OrgView]:
        """The caller's organizations; every one for platform admins."""
        async with self.db.transaction() as session:
            orgs = OrgRepository(session)
            roles = {m.org_id: m.role for m in await orgs.memberships_of(caller.user_id)}
            found = await orgs.find(None if caller.is_admin else roles)
            sizes = await orgs.sizes(org.id for org in found)
        return [_view(org, roles.get(org.id), sizes[org.id]) for org in found]

    async def get_org(self, caller: Principal, ref: str) -> OrgView:
        async with self.db.transaction() as session:
            org, role = await self._visible(session, caller, ref)
            sizes = await OrgRepository(session).sizes([org.id])
        return _view(org, role, sizes[org.id])

    async def update_org(self, caller: Principal, ref: str, *, display_name: str) -> OrgView:
        async with self.db.transaction() as session:
            org, role = await self._managed(session, caller, ref)
            orgs = OrgRepository(session)
            updated = await orgs.update(org.id, display_name=display_name)
            assert updated is not None
            sizes = await orgs.sizes([org.id])
            await self.audit.record(
                "org.updated",
                actor=caller,
                target_type="org",
                target_id=org.id,
                details={"display_name": display_name},
                session=session,
            )
        return _view(updated, role, sizes[org.id])

    async def delete_org(self, caller: Principal, ref: str) -> None:
        """Delete an organization with its memberships and teams.

        Grants to it or its teams stay (they reach nobody now): removing them could leave a
        provider with no grants, which would make it everyone's.
        """
        async with self.db.transaction() as session:
            org, _ = await self._managed(session, caller, ref, need=OrgRole.OWNER)
            if org.name == DEFAULT_ORG:
                raise InvalidRequest(
                    "the default organization cannot be deleted: every new user joins it",
                    param="org",
                    code="default_org",
                )
            orgs = OrgRepository(session)
            members = [m.user_id for m in await orgs.members(org.id)]
            await orgs.delete(org.id)
            await self.audit.record(
                "org.deleted",
                actor=caller,
                target_type="org",
                target_id=org.id,
                details={"name": org.name},
                session=session,
            )
        for user_id in members:
            self._forget(user_id)

    # -- members --------------------------------------------------------------------

    async def members(self, caller: Principal, ref: str) -> list[Member]:
        async with self.db.transaction() as session:
            org, _ = await self._visible(session, caller, ref)
            rows = await OrgRepository(session).members_named(org.id)
        return [Member(m.user_id, name, m.role) for m, name in rows]

    async def set_member(self, caller: Principal, ref: str, user_ref: str, role: OrgRole) -> Member:
        """Add a user to an organization, or change their role in it."""
        async with self.db.transaction() as session:
            org, caller_role = await self._managed(session, caller, ref)
            user = await _user(session, user_ref)
            orgs = OrgRepository(session)
            current = await orgs.member(org.id, user.id)
            previous = current.role if current else None
            if OrgRole.OWNER in (role, previous):
                _need_owner(caller, caller_role, "make or unmake owners")
            if previous is OrgRole.OWNER and role is not OrgRole.OWNER:
                await _keep_an_owner(orgs, org)
            if role is not previous:
                await orgs.set_member(org.id, user.id, role)
                await self._role_changed(session, caller, org, user, role, previous)
        self._forget(user.id)
        return Member(user.id, user.name, role)

    async def remove_member(self, caller: Principal, ref: str, user_ref: str) -> None:
        """Take a user out of an organization and of its teams."""
        async with self.db.transaction() as session:
            org, caller_role = await self._managed(session, caller, ref)
            user = await _user(session, user_ref)
            orgs = OrgRepository(session)
            current = await orgs.member(org.id, user.id)
            if current is None:
                raise NotFound(f"'{user.name}' is not a member of '{org.name}'", param="user")
            if current.role is OrgRole.OWNER:
                _need_owner(caller, caller_role, "remove owners")
                await _keep_an_owner(orgs, org)
            await orgs.remove_member(org.id, user.id)
            await TeamRepository(session).leave_org_teams(org.id, user.id)
            await self._role_changed(session, caller, org, user, None, current.role)
        self._forget(user.id)

    async def _role_changed(
        self,
        session: AsyncSession,
        caller: Principal,
        org: Organization,
        user: User,
        role: OrgRole | None,
        previous: OrgRole | None,
    ) -> None:
        await self.audit.record(
            "role.changed",
            actor=caller,
            target_type="user",
            target_id=user.id,
            details={
                "org_id": org.id,
                "org": org.name,
                "role": role.value if role else None,
                "previous": previous.value if previous else None,
            },
            session=session,
        )

    # -- teams ----------------------------------------------------------------------

    async def teams(self, caller: Principal, ref: str) -> list[Team]:
        async with self.db.transaction() as session:
            org, _ = await self._visible(session, caller, ref)
            return await TeamRepository(session).in_org(org.id)

    async def create_team(self, caller: Principal, ref: str, name: str) -> TeamView:
        async with self.db.transaction() as session:
            org, _ = await self._managed(session, caller, ref)
            team = await TeamRepository(session).add(org_id=org.id, name=name)
            await self._team_event(session, caller, "team.created", team, name=name)
        return TeamView(team, [])

    async def get_team(self, caller: Principal, ref: str, team_ref: str) -> TeamView:
        async with self.db.transaction() as session:
            org, _ = await self._visible(session, caller, ref)
            team = await _team(session, org, team_ref)
            members = await TeamRepository(session).members_named(team.id)
        return TeamView(team, members)

    async def rename_team(self, caller: Principal, ref: str, team_ref: str, name: str) -> TeamView:
        async with self.db.transaction() as session:
            org, _ = await self._managed(session, caller, ref)
            teams = TeamRepository(session)
            team = await _team(session, org, team_ref)
            renamed = await teams.rename(team.id, name)
            assert renamed is not None
            await self._team_event(session, caller, "team.renamed", team, name=name)
            members = await teams.members_named(team.id)
        return TeamView(renamed, members)

    async def delete_team(self, caller: Principal, ref: str, team_ref: str) -> None:
        """Delete a team; grants to it stay and reach nobody (as for organizations)."""
        async with self.db.transaction() as session:
            org, _ = await self._managed(session, caller, ref)
            teams = TeamRepository(session)
            team = await _team(session, org, team_ref)
            members = await teams.member_ids(team.id)
            await teams.delete(team.id)
            await self._team_event(session, caller, "team.deleted", team, name=team.name)
        for user_id in members:
            self._forget(user_id)

    async def add_team_member(
        self, caller: Principal, ref: str, team_ref: str, user_ref: str
    ) -> TeamView:
        """Put a member of the organization into one of its teams."""
        async with self.db.transaction() as session:
            org, _ = await self._managed(session, caller, ref)
            team = await _team(session, org, team_ref)
            user = await _user(session, user_ref)
            if await OrgRepository(session).member(org.id, user.id) is None:
                raise InvalidRequest(
                    f"'{user.name}' is not a member of '{org.name}'; add them to it first",
                    param="user",
                    code="not_a_member",
                )
            teams = TeamRepository(session)
            await teams.add_member(team.id, user.id)
            await self._team_event(session, caller, "team.member_added", team, user=user.id)
            members = await teams.members_named(team.id)
        self._forget(user.id)
        return TeamView(team, members)

    async def remove_team_member(
        self, caller: Principal, ref: str, team_ref: str, user_ref: str
    ) -> None:
        async with self.db.transaction() as session:
            org, _ = await self._managed(session, caller, ref)
            team = await _team(session, org, team_ref)
            user = await _user(session, user_ref)
            if not await TeamRepository(session).remove_member(team.id, user.id):
                raise NotFound(f"'{user.name}' is not in team '{team.name}'", param="user")
            await self._team_event(session, caller, "team.member_removed", team, user=user.id)
        self._forget(user.id)

    async def _team_event(
        self, session: AsyncSession, caller: Principal, action: str, team: Team, **details: str
    ) -> None:
        await self.audit.record(
            action,
            actor=caller,
            target_type="team",
            target_id=team.id,
            details={"org_id": team.org_id, **details},
            session=session,
        )

    # -- who may see and manage an organization ---------------------------------------

    async def _visible(
        self, session: AsyncSession, caller: Principal, ref: str
    ) -> tuple[Organization, OrgRole | None]:
        """The organization and the caller's role in it; 404 unless they belong to it."""
        orgs = OrgRepository(session)
        org = await orgs.get(ref)
        membership = await orgs.member(org.id, caller.user_id) if org else None
        if org is None or (membership is None and not caller.is_admin):
            raise NotFound(f"no organization '{ref}'", param="org")
        return org, membership.role if membership else None

    async def _managed(
        self, session: AsyncSession, caller: Principal, ref: str, *, need: OrgRole = OrgRole.ADMIN
    ) -> tuple[Organization, OrgRole | None]:
        """As `_visible`, and the caller must be a platform admin or hold `need` in it."""
        org, role = await self._visible(session, caller, ref)
        if not caller.is_admin and (role is None or not role.at_least(need)):
            raise PermissionDenied(
                f"only the {need.value}s of '{org.name}' may do this", code="org_role_required"
            )
        return org, role

    def _forget(self, user_id: str) -> None:
        for cache in self.caches:
            cache.forget(user_id)


def _view(org: Organization, role: OrgRole | None, sizes: tuple[int, int]) -> OrgView:
    members, teams = sizes
    return OrgView(org, role, members=members, teams=teams)


async def _user(session: AsyncSession, ref: str) -> User:
    users = UserRepository(session)
    user = await users.get(ref) or await users.by_name(ref)
    if user is None:
        raise NotFound(f"no user '{ref}'", param="user")
    return user


async def _team(session: AsyncSession, org: Organization, ref: str) -> Team:
    """A team of `org`, by id or by name."""
    teams = TeamRepository(session)
    team = await teams.get(ref)
    if team is None or team.org_id != org.id:
        found = await teams.named(ref, org_ids=[org.id])
        team = found[0] if found else None
    if team is None:
        raise NotFound(f"no team '{ref}' in '{org.name}'", param="team")
    return team


def _need_owner(caller: Principal, role: OrgRole | None, what: str) -> None:
    if not caller.is_admin and role is not OrgRole.OWNER:
        raise PermissionDenied(f"only owners may {what}", code="org_role_required")


async def _keep_an_owner(orgs: OrgRepository, org: Organization) -> None:
    if await orgs.count_role(org.id, OrgRole.OWNER) <= 1:
        raise InvalidRequest(
            f"'{org.name}' must keep at least one owner; make someone else owner first",
            param="role",
            code="last_owner",
        )
