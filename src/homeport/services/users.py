"""Users, API keys, authentication of bearer keys, and the first admin."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.keys import display_prefix, generate_key, hash_key
from homeport.auth.policy import SCOPES, valid_scope
from homeport.db.engine import Database
from homeport.db.repositories import ApiKeyRepository, OrgRepository, TeamRepository, UserRepository
from homeport.domain.access import OrgRole
from homeport.domain.users import ADMIN, ApiKey, Principal, User
from homeport.errors import AuthenticationFailed, NotFound, PermissionDenied, ValidationFailed
from homeport.services.audit import AuditService
from homeport.settings import ADMIN_KEY_FILE, Settings, write_private_file

log = logging.getLogger(__name__)

KNOWN_ROLES = frozenset({ADMIN, "user"})
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


class UserService:
    def __init__(self, db: Database, audit: AuditService):
        self.db = db
        self.audit = audit
        self._cache: dict[str, _Cached] = {}

    # -- users ----------------------------------------------------------------------

    async def create_user(
        self, name: str, *, email: str | None = None, roles: list[str] | None = None
    ) -> User:
        roles = roles or ["user"]
        unknown = set(roles) - KNOWN_ROLES
        if unknown:
            raise ValidationFailed(f"unknown roles: {', '.join(sorted(unknown))}", param="roles")
        async with self.db.transaction() as session:
            user = await UserRepository(session).add(name=name, email=email, roles=roles)
            await join_default_org(session, user.id)
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
        """Drop cached principals of a user whose roles, memberships or state changed."""
        self._cache = {h: c for h, c in self._cache.items() if c.principal.user_id != user_id}

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
