"""Sharing: grants of resources to users, teams and organizations, and who may change them.

Each shareable kind of resource registers a `ResourceType` by name (`SharingService.register`),
the way a plugin would: it says how to find a resource's owner and organization, which grant
permissions make sense for it, and how to hand it to another owner. The built-in one is the
provider connection (`ProviderShares`); apps, knowledge bases and secrets register later.

Who may change a resource's grants: platform admins, its owner, the owners and admins of the
organization it belongs to, and whoever holds an `edit` grant on it. Anyone else who can see
the resource gets 403; anyone who cannot gets 404, as for a resource that does not exist.
Ownership moves only by its owner, its organization's owners/admins, or a platform admin.

Checks on hot paths read grants from a `GrantIndex`: the grants of one type, in memory,
reloaded after `GRANT_CACHE_SECONDS` (other replicas' changes) and at once after a change
made through this replica.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.engine import Database
from homeport.db.repositories import GrantRepository, OrgRepository, TeamRepository, UserRepository
from homeport.domain.access import Grant, GrantPermission, OrgRole, SubjectType
from homeport.domain.users import Principal, User
from homeport.errors import InvalidRequest, NotFound, PermissionDenied, ValidationFailed
from homeport.providers.catalog import Visible
from homeport.services.audit import AuditService
from homeport.services.providers import ProviderService

GRANT_CACHE_SECONDS = 5.0
DELETED = "(deleted)"


@dataclass(frozen=True, slots=True)
class SharedResource:
    """A resource as sharing sees it: who owns it and which organization it belongs to."""

    type: str
    id: str
    owner_id: str | None = None  # None: the platform admins
    org_id: str | None = None


class ResourceType(Protocol):
    """A kind of resource that can be shared, registered under `name`."""

    name: str
    # The grant permissions that mean something for this kind.
    permissions: frozenset[GrantPermission]
    # Usable by everyone while nobody is granted it (providers); else only by its grantees.
    open_without_grants: bool
    # Whether its resources have an owning user, who may hand them over.
    owned: bool

    async def find(self, resource_id: str) -> SharedResource | None: ...

    async def transfer(self, session: AsyncSession, resource_id: str, to_user_id: str) -> None: ...

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> int:
        """Give everything `from_user_id` owns to `to_user_id` (a user leaves); how many."""
        ...


@dataclass(frozen=True, slots=True)
class SharedWith:
    """A grant, with the name of its subject for display."""

    grant: Grant
    subject_name: str


def reaches(grant: Grant, principal: Principal) -> bool:
    """Whether a grant applies to the principal: to them, to one of their teams or orgs."""
    if grant.subject_type is SubjectType.USER:
        return grant.subject_id == principal.user_id
    if grant.subject_type is SubjectType.TEAM:
        return grant.subject_id in principal.team_ids
    return grant.subject_id in principal.org_ids


class GrantIndex:
    """The grants of one resource type held in memory, for checks on every request."""

    def __init__(self, db: Database, resource_type: str, *, ttl: float = GRANT_CACHE_SECONDS):
        self.db = db
        self.resource_type = resource_type
        self.ttl = ttl
        self._grants: dict[str, tuple[Grant, ...]] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def current(self) -> Mapping[str, tuple[Grant, ...]]:
        """resource id -> its grants; only resources that have any."""
        if self._fresh():
            return self._grants
        async with self._lock:
            if not self._fresh():
                async with self.db.transaction() as session:
                    grants = await GrantRepository(session).of_type(self.resource_type)
                by_resource: dict[str, list[Grant]] = {}
                for grant in grants:
                    by_resource.setdefault(grant.resource_id, []).append(grant)
                self._grants = {k: tuple(v) for k, v in by_resource.items()}
                self._loaded_at = time.monotonic()
        return self._grants

    async def allows(
        self,
        principal: Principal,
        resource_id: str,
        permission: GrantPermission | None = None,
    ) -> bool:
        """Whether a grant on the resource reaches the principal (with that permission)."""
        grants = (await self.current()).get(resource_id, ())
        return any(
            reaches(g, principal) and (permission is None or g.permission == permission)
            for g in grants
        )

    def invalidate(self) -> None:
        self._loaded_at = None

    def _fresh(self) -> bool:
        return self._loaded_at is not None and time.monotonic() - self._loaded_at < self.ttl


class ProviderAccess:
    """Which providers a caller may use: all while a provider has no grants, then only its
    grantees (and platform admins).

    `attached` names providers usable for this request whatever the caller's own grants say:
    an app passes the ones its owner attached to it (an app acts with the caller's rights
    plus exactly what its owner attached).
    """

    def __init__(self, index: GrantIndex):
        self.index = index

    async def visible(
        self, principal: Principal, *, attached: Collection[str] = ()
    ) -> Visible | None:
        """A filter over provider names; None when the caller may use every provider."""
        if principal.is_admin:
            return None
        grants = await self.index.current()
        if not grants:
            return None

        def visible(name: str) -> bool:
            restricted = grants.get(name)
            if restricted is None or name in attached:
                return True
            return any(reaches(grant, principal) for grant in restricted)

        return visible


class ProviderShares:
    """Provider connections as a shareable resource: owned by the platform admins."""

    name = "provider"
    permissions = frozenset({GrantPermission.USE})
    open_without_grants = True
    owned = False

    def __init__(self, providers: ProviderService):
        self.providers = providers

    async def find(self, resource_id: str) -> SharedResource | None:
        try:
            status = await self.providers.get(resource_id)
        except NotFound:
            return None
        return SharedResource(type=self.name, id=status.name)

    async def transfer(self, session: AsyncSession, resource_id: str, to_user_id: str) -> None:
        raise InvalidRequest("providers have no owner to transfer", code="not_owned")

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> int:
        return 0


class SharingService:
    def __init__(self, db: Database, audit: AuditService):
        self.db = db
        self.audit = audit
        self._types: dict[str, ResourceType] = {}
        self._indexes: dict[str, GrantIndex] = {}

    def register(self, kind: ResourceType) -> None:
        self._types[kind.name] = kind

    def types(self) -> list[str]:
        return sorted(self._types)

    def index(self, resource_type: str) -> GrantIndex:
        """The in-memory grants of a type, kept current with the changes made here."""
        if resource_type not in self._indexes:
            self._indexes[resource_type] = GrantIndex(self.db, resource_type)
        return self._indexes[resource_type]

    # -- grants -----------------------------------------------------------------------

    async def grants(
        self, caller: Principal, resource_type: str, resource_id: str
    ) -> list[SharedWith]:
        async with self.db.transaction() as session:
            _, _, grants = await self._managed(session, caller, resource_type, resource_id)
            return [SharedWith(g, await _subject_name(session, g)) for g in grants]

    async def grant(
        self,
        caller: Principal,
        resource_type: str,
        resource_id: str,
        *,
        subject_type: SubjectType,
        subject: str,
        permission: GrantPermission,
    ) -> SharedWith:
        """Share a resource with a user, team or organization (or change the permission)."""
        async with self.db.transaction() as session:
            kind, resource, _ = await self._managed(session, caller, resource_type, resource_id)
            if permission not in kind.permissions:
                allowed = ", ".join(sorted(p.value for p in kind.permissions))
                raise ValidationFailed(
                    f"a {kind.name} can be shared with permission: {allowed}", param="permission"
                )
            subject_id, name = await _subject(session, caller, subject_type, subject)
            grant = await GrantRepository(session).add(
                resource_type=kind.name,
                resource_id=resource.id,
                subject_type=subject_type,
                subject_id=subject_id,
                permission=permission,
                created_by=caller.user_id,
            )
            await self._changed(session, caller, resource, "granted", grant)
        return SharedWith(grant, name)

    async def revoke(
        self, caller: Principal, resource_type: str, resource_id: str, grant_id: str
    ) -> None:
        async with self.db.transaction() as session:
            _, resource, grants = await self._managed(session, caller, resource_type, resource_id)
            grant = next((g for g in grants if g.id == grant_id), None)
            if grant is None:
                raise NotFound(f"no grant '{grant_id}' on this {resource_type}", param="grant_id")
            await GrantRepository(session).delete(grant.id)
            await self._changed(session, caller, resource, "revoked", grant)

    async def transfer(
        self, caller: Principal, resource_type: str, resource_id: str, to_user: str
    ) -> SharedResource:
        """Make another user the owner of a resource."""
        async with self.db.transaction() as session:
            kind, resource, _ = await self._managed(session, caller, resource_type, resource_id)
            if not kind.owned:
                raise InvalidRequest(
                    f"a {kind.name} has no owner to transfer; it belongs to the platform admins",
                    code="not_owned",
                )
            if not _may_transfer(caller, resource):
                raise PermissionDenied(
                    f"only the owner of this {kind.name} or an admin may transfer it"
                )
            user = await _visible_user(session, caller, to_user, param="to_user")
            orgs = OrgRepository(session)
            if resource.org_id and await orgs.member(resource.org_id, user.id) is None:
                raise InvalidRequest(
                    f"'{user.name}' is not a member of this {kind.name}'s organization",
                    param="to_user",
                    code="not_a_member",
                )
            await kind.transfer(session, resource.id, user.id)
            await self._transferred(session, caller, resource, user)
        return SharedResource(resource.type, resource.id, user.id, resource.org_id)

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> int:
        """Give everything a user owns, of every registered type, to another user.

        For deleting a user with a successor; runs in the caller's transaction.
        """
        moved = 0
        for kind in self._types.values():
            moved += await kind.hand_over(session, from_user_id, to_user_id)
        return moved

    # -- steps ------------------------------------------------------------------------

    async def _managed(
        self, session: AsyncSession, caller: Principal, resource_type: str, resource_id: str
    ) -> tuple[ResourceType, SharedResource, list[Grant]]:
        """The resource and its grants, if the caller may change them (else 403 or 404)."""
        kind = self._types.get(resource_type)
        if kind is None:
            known = ", ".join(self.types())
            raise NotFound(
                f"no shareable resource type '{resource_type}'; known: {known}",
                param="resource_type",
            )
        resource = await kind.find(resource_id)
        if resource is None:
            raise NotFound(f"no {kind.name} '{resource_id}'", param="resource_id")
        grants = await GrantRepository(session).for_resource(kind.name, resource.id)
        if _may_manage(caller, resource, grants):
            return kind, resource, grants
        if (kind.open_without_grants and not grants) or any(reaches(g, caller) for g in grants):
            raise PermissionDenied(f"you may use this {kind.name} but not change its sharing")
        raise NotFound(f"no {kind.name} '{resource_id}'", param="resource_id")

    async def _changed(
        self,
        session: AsyncSession,
        caller: Principal,
        resource: SharedResource,
        change: str,
        grant: Grant,
    ) -> None:
        await self.audit.record(
            "sharing.changed",
            actor=caller,
            target_type=resource.type,
            target_id=resource.id,
            details={
                "change": change,
                "grant_id": grant.id,
                "subject_type": grant.subject_type.value,
                "subject_id": grant.subject_id,
                "permission": grant.permission.value,
            },
            session=session,
        )
        if resource.type in self._indexes:
            self._indexes[resource.type].invalidate()

    async def _transferred(
        self, session: AsyncSession, caller: Principal, resource: SharedResource, to: User
    ) -> None:
        await self.audit.record(
            "sharing.changed",
            actor=caller,
            target_type=resource.type,
            target_id=resource.id,
            details={"change": "transferred", "from": resource.owner_id, "to": to.id},
            session=session,
        )


def _may_manage(caller: Principal, resource: SharedResource, grants: list[Grant]) -> bool:
    if _may_transfer(caller, resource):
        return True
    return any(g.permission is GrantPermission.EDIT and reaches(g, caller) for g in grants)


def _may_transfer(caller: Principal, resource: SharedResource) -> bool:
    if caller.is_admin or (resource.owner_id and resource.owner_id == caller.user_id):
        return True
    role = caller.org_role(resource.org_id) if resource.org_id else None
    return role in (OrgRole.OWNER, OrgRole.ADMIN)


async def _subject(
    session: AsyncSession, caller: Principal, subject_type: SubjectType, ref: str
) -> tuple[str, str]:
    """(id, display name) of a grant's subject the caller may see (else 404)."""
    if subject_type is SubjectType.USER:
        user = await _visible_user(session, caller, ref, param="subject")
        return user.id, user.name
    orgs = OrgRepository(session)
    if subject_type is SubjectType.ORG:
        org = await orgs.get(ref)
        if org is None or not (caller.is_admin or org.id in caller.org_ids):
            raise NotFound(f"no organization '{ref}'", param="subject")
        return org.id, org.name
    return await _visible_team(session, caller, ref)


async def _visible_team(session: AsyncSession, caller: Principal, ref: str) -> tuple[str, str]:
    """A team by id, by `org/team`, or by a name unique among the caller's organizations."""
    teams, orgs = TeamRepository(session), OrgRepository(session)
    scope = None if caller.is_admin else caller.org_ids
    found = await teams.get(ref)
    candidates = [found] if found else []
    if not candidates and "/" in ref:
        org_name, _, team_name = ref.partition("/")
        org = await orgs.get(org_name)
        candidates = await teams.named(team_name, org_ids=[org.id]) if org else []
    elif not candidates:
        candidates = await teams.named(ref, org_ids=scope)
    visible = [t for t in candidates if scope is None or t.org_id in scope]
    if not visible:
        raise NotFound(f"no team '{ref}'", param="subject")
    if len(visible) > 1:
        raise ValidationFailed(
            f"several of your organizations have a team named '{ref}'; use org/team",
            param="subject",
        )
    team = visible[0]
    org = await orgs.get(team.org_id)
    return team.id, f"{org.name if org else team.org_id}/{team.name}"


async def _visible_user(session: AsyncSession, caller: Principal, ref: str, *, param: str) -> User:
    """A user by id or name; others than admins see only users they share an org with."""
    users = UserRepository(session)
    user = await users.get(ref) or await users.by_name(ref)
    hidden = (
        user is not None
        and not caller.is_admin
        and user.id != caller.user_id
        and not await OrgRepository(session).share_an_org(caller.user_id, user.id)
    )
    if user is None or hidden:
        raise NotFound(f"no user '{ref}'", param=param)
    return user


async def _subject_name(session: AsyncSession, grant: Grant) -> str:
    """The subject's name; `(deleted)` for a team or organization deleted since."""
    name: str | None = None
    orgs = OrgRepository(session)
    if grant.subject_type is SubjectType.USER:
        user = await UserRepository(session).get(grant.subject_id)
        name = user.name if user else None
    elif grant.subject_type is SubjectType.ORG:
        org = await orgs.get(grant.subject_id)
        name = org.name if org else None
    else:
        team = await TeamRepository(session).get(grant.subject_id)
        org = await orgs.get(team.org_id) if team else None
        name = f"{org.name}/{team.name}" if team and org else None
    return name or DELETED
