"""Browser sign-in: sessions in a secure HttpOnly cookie, each with its CSRF token.

The cookie holds a random token; the database keeps its SHA-256 hash, the CSRF token, the
expiry and whether it was revoked. Unsafe requests made with the cookie must repeat the CSRF
token in the `X-CSRF-Token` header (the UI reads it from the sign-in response or from the
`homeport_csrf` cookie, which scripts on the page can read and other sites cannot).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from homeport.auth.keys import hash_key
from homeport.db.engine import Database
from homeport.db.repositories import BrowserSessionRepository, UserRepository
from homeport.domain.users import Principal, User
from homeport.errors import AuthenticationFailed
from homeport.services.users import load_principal

SESSION_LIFETIME = timedelta(days=14)
SESSION_CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SignIn:
    """A new browser session: the cookie value and the CSRF token, known only now."""

    user: User
    session_id: str
    token: str
    csrf_token: str
    expires_at: datetime


@dataclass(slots=True)
class _Cached:
    principal: Principal
    csrf_token: str
    session_id: str
    expires_at: datetime
    checked_at: float


class AccountService:
    def __init__(self, db: Database):
        self.db = db
        self._cache: dict[str, _Cached] = {}

    async def start_session(
        self, user: User, *, user_agent: str | None = None, ip: str | None = None
    ) -> SignIn:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires_at = datetime.now(UTC) + SESSION_LIFETIME
        async with self.db.transaction() as session:
            row = await BrowserSessionRepository(session).add(
                user_id=user.id,
                token_hash=hash_key(token),
                csrf_token=csrf,
                expires_at=expires_at,
                user_agent=(user_agent or "")[:300] or None,
                ip=ip,
            )
            await UserRepository(session).touch_login(user.id, datetime.now(UTC))
        return SignIn(user, row.id, token, csrf, expires_at)

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
        self._cache = {h: c for h, c in self._cache.items() if c.principal.user_id != user_id}
        async with self.db.transaction() as session:
            await BrowserSessionRepository(session).revoke_all(user_id)

    def forget(self, user_id: str) -> None:
        """Drop cached sessions of a user whose roles or memberships changed."""
        self._cache = {h: c for h, c in self._cache.items() if c.principal.user_id != user_id}
