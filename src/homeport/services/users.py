"""Users, API keys, authentication of bearer keys, and the first admin."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.keys import display_prefix, generate_key, hash_key
from homeport.auth.passwords import hash_password
from homeport.auth.policy import SCOPES, valid_scope
from homeport.db.engine import Database
from homeport.db.repositories import (
    ApiKeyRepository,
    BrowserSessionRepository,
    OrgRepository,
    TeamRepository,
    ThrottleRepository,
    UserDataRepository,
    UserRepository,
)
from homeport.domain.access import OrgRole
from homeport.domain.users import ADMIN, ApiKey, Principal, User
from homeport.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from homeport.services.audit import AuditService
from homeport.settings import ADMIN_KEY_FILE, Settings, write_private_file

log = logging.getLogger(__name__)

KNOWN_ROLES = frozenset({ADMIN, "user"})
EDITABLE = frozenset({"disabled", "roles", "display_name", "email"})
# Created with the first admin; new users join it as members.
DEFAULT_ORG = "default"
# A verified key is trusted for this long before the database is asked again.
# Revocation on this replica takes effect at once (the cache entry is dropped).
AUTH_CACHE_SECONDS = 5.0
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key: the only moment its secret is known."""

    key: ApiKey
    secret: str


@dataclass(slots=True)
class _Cached:
    principal: Principal
    expires_at: datetime | None
    checked_at: float


@dataclass(frozen=True, slots=True)
class DeletedUser:
    user: User
    transferred_to: User | None
    chat_sessions: int  # moved to `transferred_to`, or deleted


class OwnedData(Protocol):
    """Resources of one kind that users own, for when an owner is deleted."""

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> None:
        """Make `to_user_id` the owner of what `from_user_id` owns."""

    async def erase(self, session: AsyncSession, user_id: str) -> None:
        """Delete what `user_id` owns."""


class UserService:
    def __init__(self, db: Database, audit: AuditService):
        self.db = db
        self.audit = audit
        self._cache: dict[str, _Cached] = {}
        self._forgetters: list[Callable[[str], None]] = []
        self._owned_data: list[OwnedData] = []

    # -- users ----------------------------------------------------------------------

    async def create_user(
        self,
        name: str,
        *,
        email: str | None = None,
        roles: list[str] | None = None,
        password: str | None = None,
        display_name: str | None = None,
        actor: Principal | None = None,
        ip: str | None = None,
    ) -> User:
        """A user made by an admin; without a password they cannot sign in with one (yet)."""
        roles = roles or ["user"]
        _check_roles(roles)
        password_hash = await hash_new_password(password) if password is not None else None
        async with self.db.transaction() as session:
            user = await UserRepository(session).add(
                name=name,
                email=email,
                roles=roles,
                password_hash=password_hash,
                display_name=display_name,
            )
            await join_default_org(session, user.id)
            if actor is not None:
                await self.audit.record(
                    "user.created",
                    actor=actor,
                    target_type="user",
                    target_id=user.id,
                    ip=ip,
                    details={"name": name, "roles": roles, "password": password is not None},
                    session=session,
                )
            return user

    async def list_users(self) -> list[User]:
        async with self.db.transaction() as session:
            return await UserRepository(session).list()

    async def get_user(self, ref: str) -> User:
        """By id or by name."""
        async with self.db.transaction() as session:
            users = UserRepository(session)
            user = await users.get(ref) or await users.by_name(ref)
        if user is None:
            raise NotFound(f"no user '{ref}'", param="user")
        return user

    async def update_user(
        self, actor: Principal, ref: str, changes: Mapping[str, Any], *, ip: str | None = None
    ) -> User:
        """Change `disabled`, `roles`, `display_name` or `email` (the keys given).

        Disabling signs the user out of every browser, and their keys stop working at once.
        The last enabled admin can be neither disabled nor demoted.
        """
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValidationFailed(f"cannot change: {', '.join(sorted(unknown))}")
        if "roles" in changes:
            _check_roles(changes["roles"])
        async with self.db.transaction() as session:
            users = UserRepository(session)
            user = await _find_user(users, ref)
            removes_admin = changes.get("disabled") is True or (
                "roles" in changes and ADMIN not in changes["roles"]
            )
            if removes_admin:
                await _keep_an_admin(users, user, "disable or demote")
            updated = await users.update(user.id, **changes)
            assert updated is not None
            if updated.disabled and not user.disabled:
                await BrowserSessionRepository(session).revoke_all(user.id)
            for action, details in _user_changes(user, updated):
                await self.audit.record(
                    action,
                    actor=actor,
                    target_type="user",
                    target_id=user.id,
                    ip=ip,
                    details=details,
                    session=session,
                )
        self.forget(user.id)
        return updated

    async def reset_password(
        self, actor: Principal, ref: str, new_password: str, *, ip: str | None = None
    ) -> User:
        """Set a user's password (admins); the user is signed out of every browser."""
        password_hash = await hash_new_password(new_password, param="new_password")
        async with self.db.transaction() as session:
            users = UserRepository(session)
            user = await _find_user(users, ref)
            await users.set_password_hash(user.id, password_hash)
            ended = await BrowserSessionRepository(session).revoke_all(user.id)
            await ThrottleRepository(session).clear(f"account:{user.id}")
            await self.audit.record(
                "user.password_reset",
                actor=actor,
                target_type="user",
                target_id=user.id,
                ip=ip,
                details={"sessions_ended": len(ended)},
                session=session,
            )
        self.forget(user.id)
        return user

    async def delete_user(
        self,
        actor: Principal,
        ref: str,
        *,
        transfer_to: str | None = None,
        ip: str | None = None,
    ) -> DeletedUser:
        """Delete a user in one transaction. What they own moves to `transfer_to`, or is
        deleted with them; their keys, sign-ins, memberships and grants to them always go."""
        async with self.db.transaction() as session:
            users = UserRepository(session)
            user = await _find_user(users, ref)
            await self._check_deletable(users, actor, user)
            heir = (
                await _find_user(users, transfer_to, param="transfer_to") if transfer_to else None
            )
            if heir is not None and heir.id == user.id:
                raise ValidationFailed(
                    "transfer_to must be another user than the one deleted", param="transfer_to"
                )
            moved, orgs = await self._hand_over_or_erase(session, user, heir)
            await UserDataRepository(session).remove_user(user.id)
            await self.audit.record(
                "user.deleted",
                actor=actor,
                target_type="user",
                target_id=user.id,
                ip=ip,
                details={
                    "name": user.name,
                    "transferred_to": heir.id if heir else None,
                    "chat_sessions": moved,
                    "organizations_handed_over": orgs,
                },
                session=session,
            )
        self.forget(user.id)
        if heir is not None:
            self.forget(heir.id)
        return DeletedUser(user=user, transferred_to=heir, chat_sessions=moved)

    async def _hand_over_or_erase(
        self, session: AsyncSession, user: User, heir: User | None
    ) -> tuple[int, list[str]]:
        """Move what the user owns to the heir (their chats, and ownership of organizations
        they own), or delete it; returns the chat sessions and organization ids concerned."""
        data = UserDataRepository(session)
        if heir is None:
            moved = await data.erase_owned(user.id)
            for owned in self._owned_data:
                await owned.erase(session, user.id)
            return moved, []
        moved = await data.hand_over(user.id, heir.id)
        for owned in self._owned_data:
            await owned.hand_over(session, user.id, heir.id)
        orgs = OrgRepository(session)
        heirs_roles = {m.org_id: m.role for m in await orgs.memberships_of(heir.id)}
        handed: list[str] = []
        for membership in await orgs.memberships_of(user.id):
            already = heirs_roles.get(membership.org_id) is OrgRole.OWNER
            if membership.role is OrgRole.OWNER and not already:
                await orgs.set_member(membership.org_id, heir.id, OrgRole.OWNER)
                handed.append(membership.org_id)
        return moved, handed

    async def _check_deletable(self, users: UserRepository, actor: Principal, user: User) -> None:
        if user.source == "bootstrap":
            raise Conflict(
                f"'{user.name}' is the first admin, made at installation; disable it instead.",
                param="user",
            )
        if user.id == actor.user_id:
            raise Conflict("You cannot delete your own account.", param="user")
        await _keep_an_admin(users, user, "delete")

    def register_owned_data(self, owned: OwnedData) -> None:
        """Something users own (apps, knowledge, ...), handed over or erased with them."""
        self._owned_data.append(owned)

    # -- keys -----------------------------------------------------------------------

    async def create_key(
        self,
        owner: Principal,
        *,
        name: str,
        user: str | None = None,
        expires_at: datetime | None = None,
        scopes: list[str] | None = None,
        secret: str | None = None,
    ) -> CreatedKey:
        """A key for the caller, or (admins only) for another user.

        Scopes narrow what the key may do; whatever they say, a key never does more than
        its owner may at the time of the request.
        """
        target = await self._key_owner(owner, user)
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise ValidationFailed("expires_at is in the past", param="expires_at")
        unknown = [s for s in scopes or [] if not valid_scope(s)]
        if unknown:
            raise ValidationFailed(
                f"unknown scopes: {', '.join(unknown)}; known: {', '.join(sorted(SCOPES))}, "
                "app:<name>",
                param="scopes",
            )
        secret = secret or generate_key()
        async with self.db.transaction() as session:
            key = await ApiKeyRepository(session).add(
                user_id=target.id,
                name=name,
                prefix=display_prefix(secret),
                secret_hash=hash_key(secret),
                scopes=list(dict.fromkeys(scopes or [])),
                expires_at=expires_at,
            )
            await self.audit.record(
                "key.created",
                actor=owner,
                target_type="api_key",
                target_id=key.id,
                details={"user_id": target.id, "name": name, "scopes": list(key.scopes)},
                session=session,
            )
        return CreatedKey(key=key, secret=secret)

    async def list_keys(self, caller: Principal, *, user: str | None = None) -> list[ApiKey]:
        owner = await self._key_owner(caller, user)
        async with self.db.transaction() as session:
            return await ApiKeyRepository(session).list(user_id=owner.id)

    async def revoke_key(self, caller: Principal, key_id: str) -> ApiKey:
        async with self.db.transaction() as session:
            keys = ApiKeyRepository(session)
            key = await keys.get(key_id)
            if key is None or (key.user_id != caller.user_id and not caller.is_admin):
                raise NotFound(f"no API key '{key_id}'", param="key_id")
            await keys.revoke(key_id)
            revoked = await keys.get(key_id)
            await self.audit.record(
                "key.revoked",
                actor=caller,
                target_type="api_key",
                target_id=key_id,
                details={"user_id": key.user_id},
                session=session,
            )
        self._cache = {h: c for h, c in self._cache.items() if c.principal.key_id != key_id}
        assert revoked is not None
        return revoked

    async def _key_owner(self, caller: Principal, user: str | None) -> User:
        if user is None or user in (caller.user_id, caller.name):
            return await self.get_user(caller.user_id)
        # Checked before the lookup, so that a 404 does not tell who exists.
        if not caller.is_admin:
            raise PermissionDenied("only admins manage other users' keys")
        return await self.get_user(user)

    # -- authentication -----------------------------------------------------------

    async def authenticate(self, secret: str) -> Principal:
        """The principal behind a bearer key; expired, revoked or unknown keys fail."""
        if not secret:
            raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
        digest = hash_key(secret)
        now = datetime.now(UTC)
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached.checked_at < AUTH_CACHE_SECONDS:
            if cached.expires_at is not None and cached.expires_at <= now:
                raise AuthenticationFailed("This API key has expired.", code="expired_api_key")
            return cached.principal
        principal, expires_at = await self._verify(digest, now)
        self._cache[digest] = _Cached(principal, expires_at, time.monotonic())
        return principal

    async def _verify(self, digest: str, now: datetime) -> tuple[Principal, datetime | None]:
        async with self.db.transaction() as session:
            keys = ApiKeyRepository(session)
            key = await keys.by_hash(digest)
            user = await UserRepository(session).get(key.user_id) if key else None
            if key is None or user is None or key.revoked_at is not None:
                raise AuthenticationFailed("Incorrect API key provided.", code="invalid_api_key")
            if key.expires_at is not None and key.expires_at <= now:
                raise AuthenticationFailed("This API key has expired.", code="expired_api_key")
            if user.disabled:
                raise AuthenticationFailed("This user is disabled.", code="user_disabled")
            if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
                await keys.touch(key.id, now)
            principal = await load_principal(session, user, scopes=key.scopes, key_id=key.id)
        return principal, key.expires_at

    def forget(self, user_id: str) -> None:
        """Drop cached principals of a user whose roles, memberships or state changed (here
        and in the caches registered with `also_forget`, such as browser sessions')."""
        self._cache = {h: c for h, c in self._cache.items() if c.principal.user_id != user_id}
        for forget in self._forgetters:
            forget(user_id)

    def also_forget(self, forget: Callable[[str], None]) -> None:
        self._forgetters.append(forget)

    # -- first start ----------------------------------------------------------------

    async def bootstrap(self, settings: Settings) -> Path | None:
        """Create the admin user and key on first start; returns where the key was written."""
        async with self.db.transaction() as session:
            users = UserRepository(session)
            if await users.count() > 0:
                return None
            admin = await users.add(name="admin", email=None, roles=[ADMIN], source="bootstrap")
            orgs = OrgRepository(session)
            org = await orgs.add(name=DEFAULT_ORG, display_name="Default organization")
            await orgs.set_member(org.id, admin.id, OrgRole.OWNER)
        principal = Principal(user_id=admin.id, name=admin.name, roles=admin.roles)
        given = (
            settings.bootstrap_api_key.get_secret_value() if settings.bootstrap_api_key else None
        )
        created = await self.create_key(principal, name="bootstrap", secret=given)
        if given is not None:
            log.info("created user 'admin' with the key from HOMEPORT_BOOTSTRAP_API_KEY")
            return None
        path = settings.ensure_data_dir() / ADMIN_KEY_FILE
        write_private_file(path, created.secret)
        log.warning("created user 'admin'; its API key is in %s (readable only by you)", path)
        return path


async def load_principal(
    session: AsyncSession,
    user: User,
    *,
    scopes: tuple[str, ...] = (),
    key_id: str | None = None,
    via: str = "key",
) -> Principal:
    """The principal for a user: their roles, organizations and teams, as of now."""
    memberships = await OrgRepository(session).memberships_of(user.id)
    teams = await TeamRepository(session).team_ids_of(user.id)
    return Principal(
        user_id=user.id,
        name=user.name,
        roles=user.roles,
        scopes=scopes,
        key_id=key_id,
        org_roles={m.org_id: m.role for m in memberships},
        team_ids=frozenset(teams),
        via=via,
    )


async def join_default_org(
    session: AsyncSession, user_id: str, role: OrgRole = OrgRole.MEMBER
) -> None:
    """New users join the default organization (when there is one)."""
    orgs = OrgRepository(session)
    org = await orgs.get(DEFAULT_ORG)
    if org is not None:
        await orgs.set_member(org.id, user_id, role)


async def hash_new_password(password: str, *, param: str = "password") -> str:
    """The argon2 hash of an acceptable password (hashed off the event loop)."""
    try:
        return await asyncio.to_thread(hash_password, password)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, param=param) from exc


def _check_roles(roles: Any) -> None:
    unknown = set(roles) - KNOWN_ROLES
    if unknown:
        raise ValidationFailed(f"unknown roles: {', '.join(sorted(unknown))}", param="roles")


async def _find_user(users: UserRepository, ref: str, *, param: str = "user") -> User:
    user = await users.get(ref) or await users.by_name(ref)
    if user is None:
        raise NotFound(f"no user '{ref}'", param=param)
    return user


async def _keep_an_admin(users: UserRepository, user: User, doing: str) -> None:
    admins = await users.enabled_admin_ids()
    if user.id in admins and not admins - {user.id}:
        raise Conflict(
            f"Cannot {doing} '{user.name}': it is the last admin. Make another user an admin "
            "first.",
            code="last_admin",
        )


def _user_changes(before: User, after: User) -> list[tuple[str, dict[str, Any]]]:
    """The audit events for an update: (action, details)."""
    events: list[tuple[str, dict[str, Any]]] = []
    if after.disabled != before.disabled:
        events.append(("user.disabled" if after.disabled else "user.enabled", {}))
    if after.roles != before.roles:
        events.append(("user.roles_changed", {"from": list(before.roles), "to": list(after.roles)}))
    fields = [f for f in ("display_name", "email") if getattr(after, f) != getattr(before, f)]
    if fields:
        events.append(("user.updated", {"fields": fields}))
    return events
