"""Browser sign-in: registration, passwords, and sessions in a secure HttpOnly cookie.

The cookie holds a random token; the database keeps its SHA-256 hash, the CSRF token, the
expiry and whether it was revoked. Unsafe requests made with the cookie must repeat the CSRF
token in the `X-CSRF-Token` header (the UI reads it from the sign-in response or from the
`homeport_csrf` cookie, which scripts on the page can read and other sites cannot).

Every sign-in makes a new session (a cookie the browser arrived with is revoked, so a token
planted before sign-in is worth nothing). Failed sign-ins are counted per account and per
client address in `login_throttle` (shared by all replicas): past the limit, attempts are
refused for a minute, then for twice as long after each further failure, up to an hour.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.keys import hash_key
from homeport.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from homeport.db.engine import Database
from homeport.db.repositories import (
    BrowserSessionRepository,
    ServerSettingRepository,
    ThrottleRepository,
    UserRepository,
)
from homeport.domain.access import OrgRole
from homeport.domain.users import ADMIN, Principal, User
from homeport.errors import (
    AuthenticationFailed,
    PermissionDenied,
    RateLimited,
    ValidationFailed,
)
from homeport.services.audit import AuditService
from homeport.services.server_settings import ServerSettingsService
from homeport.services.users import join_default_org, load_principal

FIRST_ADMIN_CLAIM = "first_admin_claimed"
SESSION_LIFETIME = timedelta(days=14)
SESSION_CACHE_SECONDS = 5.0

THROTTLE_WINDOW = timedelta(minutes=15)
REGISTRATIONS_PER_ADDRESS = 10
ACCOUNT_FAILURES = 5  # failed sign-ins to one account within the window
ADDRESS_FAILURES = 20  # failed sign-ins from one address (offices share one) within the window
FIRST_BLOCK_SECONDS = 60.0
LONGEST_BLOCK_SECONDS = 3600.0

BAD_CREDENTIALS = "Incorrect name or password."


@dataclass(frozen=True, slots=True)
class SignIn:
    """A new browser session: the cookie value and the CSRF token, known only now."""

    user: User
    session_id: str
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Client:
    """Where a request comes from: its address, its browser, and the session cookie it sent."""

    ip: str | None = None
    user_agent: str | None = None
    cookie: str | None = None


@dataclass(frozen=True, slots=True)
class SsoOption:
    """A way to sign in offered on the sign-in page (filled by the SSO service)."""

    name: str
    label: str
    login_url: str


@dataclass(frozen=True, slots=True)
class SignInOptions:
    registration: str
    sso: tuple[SsoOption, ...]


@dataclass(slots=True)
class _Cached:
    principal: Principal
    csrf_token: str
    session_id: str
    expires_at: datetime
    checked_at: float


class AccountService:
    def __init__(self, db: Database, audit: AuditService, server_settings: ServerSettingsService):
        self.db = db
        self.audit = audit
        self.server_settings = server_settings
        self.sso_options: list[SsoOption] = []
        self._cache: dict[str, _Cached] = {}

    async def sign_in_options(self) -> SignInOptions:
        settings = await self.server_settings.get()
        return SignInOptions(registration=settings.registration, sso=tuple(self.sso_options))

    # -- registration and passwords -------------------------------------------------------

    async def register(
        self,
        *,
        name: str,
        password: str,
        email: str | None = None,
        display_name: str | None = None,
        client: Client = Client(),
    ) -> SignIn:
        """Create an account and sign it in. The first person to register becomes an admin."""
        if (await self.server_settings.get()).registration != "open":
            raise PermissionDenied(
                "Registration is closed on this server; ask an administrator for an account.",
                code="registration_closed",
            )
        password_hash = await asyncio.to_thread(hash_password, password)
        async with self.db.transaction() as session:
            await _count_registration(session, client)
            users = UserRepository(session)
            # The claim makes one registrant the first admin even when several race.
            first = not await users.any_with_password() and await ServerSettingRepository(
                session
            ).claim(FIRST_ADMIN_CLAIM)
            user = await users.add(
                name=name,
                email=email,
                roles=[ADMIN] if first else ["user"],
                source="register",
                password_hash=password_hash,
                display_name=display_name,
            )
            await join_default_org(session, user.id, OrgRole.OWNER if first else OrgRole.MEMBER)
            await self.audit.record(
                "auth.register",
                actor_user_id=user.id,
                target_type="user",
                target_id=user.id,
                ip=client.ip,
                details={"name": user.name, "roles": list(user.roles)},
                session=session,
            )
            signed_in = await self._open_session(session, user, client)
        self._drop_replaced(client)
        return signed_in

    async def sign_in(self, name: str, password: str, *, client: Client = Client()) -> SignIn:
        """Check a name (or email) and password; a new browser session when they match."""
        user, stored = await self._find(name)
        keys = _throttle_keys(user.id if user else None, name, client.ip)
        await self._refuse_if_throttled(keys, "auth.login", name=name, user=user, client=client)
        if not await asyncio.to_thread(verify_password, stored, password) or user is None:
            await self._failed(keys, "auth.login", name=name, user=user, client=client)
            raise AuthenticationFailed(BAD_CREDENTIALS, code="invalid_credentials")
        if user.disabled:
            await self._audit_failure("auth.login", name, user, client, "user disabled")
            raise AuthenticationFailed("This user is disabled.", code="user_disabled")
        async with self.db.transaction() as session:
            await ThrottleRepository(session).clear(keys[0][0])
            if stored is not None and needs_rehash(stored):
                rehashed = await asyncio.to_thread(hash_password, password)
                await UserRepository(session).set_password_hash(user.id, rehashed)
            signed_in = await self._open_session(session, user, client)
            await self.audit.record(
                "auth.login",
                actor_user_id=user.id,
                target_type="user",
                target_id=user.id,
                ip=client.ip,
                details={"method": "password", "session_id": signed_in.session_id},
                session=session,
            )
        self._drop_replaced(client)
        return signed_in

    async def change_password(
        self,
        principal: Principal,
        *,
        current: str | None,
        new: str,
        client: Client = Client(),
    ) -> None:
        """Change one's own password (the current one is needed when there is one); every
        other browser session of the user is signed out."""
        _check_new_password(new)
        async with self.db.transaction() as session:
            user = await UserRepository(session).get(principal.user_id)
            stored = await UserRepository(session).password_hash(principal.user_id)
        if user is None:
            raise AuthenticationFailed("You are not signed in.", code="invalid_session")
        if stored is not None:
            await self._check_current(user, stored, current, client)
        password_hash = await asyncio.to_thread(hash_password, new)
        async with self.db.transaction() as session:
            await UserRepository(session).set_password_hash(user.id, password_hash)
            kept = await self._session_id_of(session, client.cookie, principal)
            sessions = BrowserSessionRepository(session)
            ended = await sessions.revoke_all(user.id, except_id=kept)
            await ThrottleRepository(session).clear(_account_key(user.id, user.name))
            await self.audit.record(
                "auth.password_changed",
                actor=principal,
                target_type="user",
                target_id=user.id,
                ip=client.ip,
                details={"other_sessions_ended": len(ended)},
                session=session,
            )
        self.forget(user.id)

    async def _check_current(
        self, user: User, stored: str, current: str | None, client: Client
    ) -> None:
        keys = _throttle_keys(user.id, user.name, client.ip)
        action = "auth.password_changed"
        await self._refuse_if_throttled(keys, action, name=user.name, user=user, client=client)
        if current is None or not await asyncio.to_thread(verify_password, stored, current):
            await self._failed(keys, action, name=user.name, user=user, client=client)
            raise ValidationFailed(
                "The current password is not correct.",
                param="current_password",
                code="wrong_password",
            )

    # -- throttling -----------------------------------------------------------------------

    async def _find(self, name: str) -> tuple[User | None, str | None]:
        async with self.db.transaction() as session:
            users = UserRepository(session)
            user = await users.by_name(name)
            if user is None and "@" in name:
                user = await users.by_email(name)
            stored = await users.password_hash(user.id) if user else None
        return user, stored

    async def _refuse_if_throttled(
        self,
        keys: list[tuple[str, int]],
        action: str,
        *,
        name: str,
        user: User | None,
        client: Client,
    ) -> None:
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            throttle = ThrottleRepository(session)
            ends = [row.blocked_until for key, _ in keys if (row := await throttle.get(key))]
        blocked = [end for end in ends if end is not None and end > now]
        if not blocked:
            return
        wait = (max(blocked) - now).total_seconds()
        await self._audit_failure(action, name, user, client, "throttled")
        raise RateLimited(
            f"Too many failed sign-ins. Try again in {_duration(wait)}.", retry_after=wait
        )

    async def _failed(
        self,
        keys: list[tuple[str, int]],
        action: str,
        *,
        name: str,
        user: User | None,
        client: Client,
    ) -> None:
        """Count a failed attempt for the account and the address, blocking them past the
        limit, and audit it (with the name tried, never the password)."""
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            throttle = ThrottleRepository(session)
            for key, limit in keys:
                failures = await throttle.record_failure(
                    key, now=now, window_start=now - THROTTLE_WINDOW
                )
                block = block_seconds(failures, limit)
                if block is not None:
                    await throttle.block(key, now + timedelta(seconds=block))
            reason = "wrong password" if user else "unknown name"
            await self._audit_failure(action, name, user, client, reason, session=session)

    async def _audit_failure(
        self,
        action: str,
        name: str,
        user: User | None,
        client: Client,
        reason: str,
        *,
        session: AsyncSession | None = None,
    ) -> None:
        await self.audit.record(
            action,
            outcome="failure",
            target_type="user",
            target_id=user.id if user else None,
            ip=client.ip,
            details={"name": name[:100], "reason": reason},
            session=session,
        )

    # -- sessions -------------------------------------------------------------------------

    async def start_session(
        self,
        user: User,
        *,
        user_agent: str | None = None,
        ip: str | None = None,
        replaces: str | None = None,
    ) -> SignIn:
        """A new session for a user who proved who they are (password, SSO).

        `replaces` is the session cookie the browser arrived with: that session ends.
        """
        client = Client(ip=ip, user_agent=user_agent, cookie=replaces)
        async with self.db.transaction() as session:
            signed_in = await self._open_session(session, user, client)
        self._drop_replaced(client)
        return signed_in

    async def _open_session(self, session: AsyncSession, user: User, client: Client) -> SignIn:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        sessions = BrowserSessionRepository(session)
        if client.cookie:
            old = await sessions.by_token_hash(hash_key(client.cookie))
            if old is not None:
                await sessions.revoke(old.id)
        row = await sessions.add(
            user_id=user.id,
            token_hash=hash_key(token),
            csrf_token=csrf,
            expires_at=now + SESSION_LIFETIME,
            user_agent=(client.user_agent or "")[:300] or None,
            ip=client.ip,
        )
        await UserRepository(session).touch_login(user.id, now)
        return SignIn(user, row.id, token, csrf, row.expires_at)

    def _drop_replaced(self, client: Client) -> None:
        if client.cookie:
            self._cache.pop(hash_key(client.cookie), None)

    async def _session_id_of(
        self, session: AsyncSession, token: str | None, principal: Principal
    ) -> str | None:
        if not token or principal.via != "session":
            return None
        row = await BrowserSessionRepository(session).by_token_hash(hash_key(token))
        return row.id if row is not None and row.user_id == principal.user_id else None

    async def authenticate_session(self, token: str) -> tuple[Principal, str]:
        """The principal and CSRF token behind a session cookie."""
        digest = hash_key(token)
        now = datetime.now(UTC)
        cached = self._cache.get(digest)
        if cached and time.monotonic() - cached.checked_at < SESSION_CACHE_SECONDS:
            if cached.expires_at <= now:
                raise AuthenticationFailed(
                    "Your session has expired; sign in again.", code="session_expired"
                )
            return cached.principal, cached.csrf_token
        async with self.db.transaction() as session:
            row = await BrowserSessionRepository(session).by_token_hash(digest)
            user = await UserRepository(session).get(row.user_id) if row else None
            if row is None or user is None or row.revoked_at is not None:
                raise AuthenticationFailed("You are not signed in.", code="invalid_session")
            if row.expires_at <= now:
                raise AuthenticationFailed(
                    "Your session has expired; sign in again.", code="session_expired"
                )
            if user.disabled:
                raise AuthenticationFailed("This user is disabled.", code="user_disabled")
            principal = await load_principal(session, user, via="session")
        self._cache[digest] = _Cached(
            principal, row.csrf_token, row.id, row.expires_at, time.monotonic()
        )
        return principal, row.csrf_token

    async def sign_out(self, token: str, *, client: Client = Client()) -> None:
        """End the session of this cookie (nothing when it is unknown or ended already)."""
        digest = hash_key(token)
        self._cache.pop(digest, None)
        async with self.db.transaction() as session:
            sessions = BrowserSessionRepository(session)
            row = await sessions.by_token_hash(digest)
            if row is None or row.revoked_at is not None:
                return
            await sessions.revoke(row.id)
            await self.audit.record(
                "auth.logout",
                actor_user_id=row.user_id,
                target_type="user",
                target_id=row.user_id,
                ip=client.ip,
                details={"session_id": row.id},
                session=session,
            )

    async def end_session(self, token: str) -> None:
        digest = hash_key(token)
        self._cache.pop(digest, None)
        async with self.db.transaction() as session:
            sessions = BrowserSessionRepository(session)
            row = await sessions.by_token_hash(digest)
            if row is not None:
                await sessions.revoke(row.id)

    async def end_all_sessions(self, user_id: str) -> None:
        """Sign a user out of every browser (password change, disabling, deletion)."""
        self.forget(user_id)
        async with self.db.transaction() as session:
            await BrowserSessionRepository(session).revoke_all(user_id)

    def forget(self, user_id: str) -> None:
        """Drop cached sessions of a user whose roles, memberships or state changed."""
        self._cache = {h: c for h, c in self._cache.items() if c.principal.user_id != user_id}


async def _count_registration(session: AsyncSession, client: Client) -> None:
    """At most REGISTRATIONS_PER_ADDRESS accounts per address in the window, then a block
    that grows like the sign-in one (a failed registration is not counted)."""
    if not client.ip:
        return
    now = datetime.now(UTC)
    throttle = ThrottleRepository(session)
    key = f"register:{client.ip[:64]}"
    row = await throttle.get(key)
    if row is not None and row.blocked_until is not None and row.blocked_until > now:
        wait = (row.blocked_until - now).total_seconds()
        raise RateLimited(
            f"Too many accounts were created from this address. Try again in {_duration(wait)}.",
            retry_after=wait,
        )
    count = await throttle.record_failure(key, now=now, window_start=now - THROTTLE_WINDOW)
    block = block_seconds(count, REGISTRATIONS_PER_ADDRESS)
    if block is not None:
        await throttle.block(key, now + timedelta(seconds=block))


def block_seconds(failures: int, limit: int) -> float | None:
    """How long to refuse attempts after `failures` in the window (None: not yet)."""
    if failures < limit:
        return None
    doublings = min(failures - limit, 16)
    return min(FIRST_BLOCK_SECONDS * (1 << doublings), LONGEST_BLOCK_SECONDS)


def _account_key(user_id: str | None, name: str) -> str:
    # Unknown names are throttled too, so that the answers do not tell who exists.
    return f"account:{user_id}" if user_id else f"account:?{name.lower()[:150]}"


def _throttle_keys(user_id: str | None, name: str, ip: str | None) -> list[tuple[str, int]]:
    """(key, limit) pairs: the account's first, then the client address's."""
    keys = [(_account_key(user_id, name), ACCOUNT_FAILURES)]
    if ip:
        keys.append((f"ip:{ip[:64]}", ADDRESS_FAILURES))
    return keys


def _check_new_password(password: str) -> None:
    try:
        check_strength(password)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, param="new_password") from exc


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    return f"{round(seconds / 60)} minutes"
