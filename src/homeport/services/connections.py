"""Users' connections to business systems: their own credentials, which apps call APIs with.

    admins   put, list, get and delete OAuth2 providers (the client secret goes in, never out)
    users    start    a state (256 bits, stored hashed, ten minutes, bound to the user) and a
                      PKCE verifier; the browser goes to the provider's authorization URL
             finish   the provider sends the browser back: the state is taken (once), the code
                      traded for tokens with the verifier, the tokens stored encrypted
             set_token, list, delete (an OAuth2 connection is revoked at the provider, RFC
                      7009; a failed revocation is logged and the connection deleted anyway)
    tools    token_for(user_id, name): that user's valid access token, refreshed first when it
             expires within a minute (once, however many callers ask at the same moment), or
             None: no connection, or one the provider no longer honours (it is dropped)

A connection is keyed by (user id, name), and every read of a token is by both: one user's
token is never handed out for another. Tokens and client secrets are encrypted at rest
(`homeport.auth.secretbox`) and leave this service only through `token_for`: never in
listings, audit events, errors or logs. Providers are configured by admins, so they are
trusted as SSO's issuer is, loopback included.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote
from weakref import WeakValueDictionary

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.oauth2 import Endpoints, GrantRefused, OAuth2Client, TokenSet
from homeport.auth.secretbox import SecretBox
from homeport.db.engine import Database
from homeport.db.repositories import (
    ConnectionRepository,
    OAuthPendingRepository,
    OAuthProviderRepository,
)
from homeport.db.repositories.connections import (
    NewTokens,
    PendingConnection,
    ProviderCredentials,
    ProviderValues,
    StoredTokens,
)
from homeport.domain.connections import (
    Connection,
    ConnectionKind,
    OAuthProvider,
    check_name,
    check_text,
    check_url,
    checked_scopes,
    checked_token,
    merge_scopes,
    needs_refresh,
    valid_name,
)
from homeport.domain.users import Principal
from homeport.errors import (
    AuthenticationFailed,
    Conflict,
    HomeportError,
    NotFound,
    PermissionDenied,
    UpstreamError,
)
from homeport.services.audit import AuditService
from homeport.services.sso import local_path

log = logging.getLogger(__name__)

CALLBACK_PATH = "/api/v1/connections/oauth/callback"
CONNECT_PATH = "/api/v1/connections/{name}/connect"
PENDING_LIFETIME = timedelta(minutes=10)
RESOURCE_TYPE = "connection"
PROVIDER_TYPE = "oauth_provider"
MAX_CLIENT_ID = 255
MAX_CLIENT_SECRET = 4096


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """An OAuth2 provider as an admin gives it; a PUT replaces every field."""

    authorize_url: str
    token_url: str
    client_id: str
    revoke_url: str | None = None
    client_secret: str | None = field(default=None, repr=False)  # none: a public client
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Connected:
    """A finished connection, and the page of this server to send the browser to."""

    connection: Connection
    redirect_to: str


class ConnectionService:
    def __init__(
        self,
        db: Database,
        audit: AuditService,
        box: SecretBox,
        http: aiohttp.ClientSession,
        *,
        public_url: str,
    ):
        self.db = db
        self.audit = audit
        self.box = box
        self.http = http
        self.public_url = public_url.rstrip("/")
        self.redirect_uri = self.public_url + CALLBACK_PATH
        self._locks: WeakValueDictionary[tuple[str, str], asyncio.Lock] = WeakValueDictionary()

    # -- providers (admins) ---------------------------------------------------------------

    async def put_provider(
        self, principal: Principal, name: str, spec: ProviderSpec
    ) -> tuple[OAuthProvider, bool]:
        """Create or replace a provider; returns it and whether it is new."""
        check_name(name, "provider")
        values = self._provider_values(spec)
        async with self.db.transaction() as session:
            provider, created = await OAuthProviderRepository(session).put(
                name, values, actor_id=principal.user_id
            )
            await self.audit.record(
                "oauth_provider.set",
                actor=principal,
                target_type=PROVIDER_TYPE,
                target_id=name,
                details={
                    "name": name,
                    "created": created,
                    "confidential": provider.confidential,
                    "scopes": list(provider.scopes),
                },
                session=session,
            )
        return provider, created

    async def list_providers(self) -> builtins.list[OAuthProvider]:
        async with self.db.transaction() as session:
            return await OAuthProviderRepository(session).all()

    async def get_provider(self, name: str) -> OAuthProvider:
        async with self.db.transaction() as session:
            provider = await OAuthProviderRepository(session).get(name)
        if provider is None:
            raise NotFound(f"there is no OAuth2 provider named {name}", param="name")
        return provider

    async def delete_provider(self, principal: Principal, name: str) -> int:
        """Delete a provider and every user's connection to it (revoked at the provider);
        returns how many connections went."""
        async with self.db.transaction() as session:
            credentials = await _credentials(session, name)
            await OAuthProviderRepository(session).delete(name)
            dropped = await ConnectionRepository(session).delete_oauth_to(name)
            await self.audit.record(
                "oauth_provider.deleted",
                actor=principal,
                target_type=PROVIDER_TYPE,
                target_id=name,
                details={"name": name, "connections": len(dropped)},
                session=session,
            )
        client = self._client(credentials)
        for stored in dropped:
            await self._revoke(client, stored)
        return len(dropped)

    # -- connecting (users) ---------------------------------------------------------------

    async def start(
        self,
        principal: Principal,
        provider: str,
        *,
        scopes: builtins.list[str] | None = None,
        redirect_to: str | None = None,
    ) -> str:
        """A new connection to `provider`: the URL to send the user's browser to."""
        check_name(provider, "provider")
        wanted = checked_scopes(scopes or [])
        target = local_path(redirect_to) if redirect_to else connected_path(provider)
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        now = datetime.now(UTC)
        async with self.db.transaction() as session:
            credentials = await _credentials(session, provider)
            all_scopes = merge_scopes(credentials.provider.scopes, wanted)
            pending = OAuthPendingRepository(session)
            await pending.purge(expired_before=now)
            await pending.add(
                _hash(state),
                PendingConnection(
                    user_id=principal.user_id,
                    provider=provider,
                    code_verifier_encrypted=self.box.encrypt(verifier),
                    scopes=all_scopes,
                    redirect_to=target,
                    expires_at=now + PENDING_LIFETIME,
                ),
            )
        return self._client(credentials).authorization_url(
            redirect_uri=self.redirect_uri, state=state, scopes=all_scopes, code_verifier=verifier
        )

    async def finish(
        self,
        state: str | None,
        code: str | None,
        error: str | None,
        *,
        caller_id: str | None = None,
    ) -> Connected:
        """Complete a connection the provider sent back. `caller_id`: the user the request
        is authenticated as, if it is: it must be the user who started."""
        pending = await self._take(state)
        if caller_id is not None and caller_id != pending.user_id:
            await self._failed(pending, "connection_not_yours")
            raise PermissionDenied(
                "This connection was started by another user; start your own.",
                code="connection_not_yours",
            )
        try:
            connection = await self._connect(pending, code, error)
        except AuthenticationFailed as exc:
            await self._failed(pending, exc.code or "refused")
            raise
        return Connected(connection, pending.redirect_to or connected_path(pending.provider))

    async def set_token(
        self, principal: Principal, name: str, token: str
    ) -> tuple[Connection, bool]:
        """Store (or replace) a personal token; returns it and whether it is new."""
        check_name(name, "connection")
        tokens = NewTokens(
            kind=ConnectionKind.TOKEN,
            access_token_encrypted=self.box.encrypt(checked_token(token)),
            refresh_token_encrypted=None,
            expires_at=None,
            scopes=(),
        )
        async with self.db.transaction() as session:
            if await OAuthProviderRepository(session).get(name) is not None:
                raise Conflict(
                    f"{name} is an OAuth2 provider: connect to it with "
                    f"`homeport connection connect {name}`",
                    param="name",
                )
            connection, created = await ConnectionRepository(session).put(
                principal.user_id, name, tokens
            )
            await self._record(session, "connection.token_set", principal.user_id, name, created)
        return connection, created

    async def list(self, principal: Principal) -> builtins.list[Connection]:
        async with self.db.transaction() as session:
            return await ConnectionRepository(session).owned_by(principal.user_id)

    async def delete(self, principal: Principal, name: str) -> None:
        """Delete one of the caller's connections; an OAuth2 one is revoked at the provider
        too (if that fails, it is logged, and the connection is gone here all the same)."""
        check_name(name, "connection")
        async with self.db.transaction() as session:
            stored = await ConnectionRepository(session).delete(principal.user_id, name)
            if stored is None:
                raise NotFound(f"you have no connection named {name}", param="name")
            oauth = stored.connection.kind is ConnectionKind.OAUTH2
            credentials = (
                await OAuthProviderRepository(session).credentials(name) if oauth else None
            )
            await self._record(session, "connection.deleted", principal.user_id, name, None)
        if credentials is not None:
            await self._revoke(self._client(credentials), stored)

    async def connect_url(self, name: str) -> str | None:
        """Where a user connects to the OAuth2 provider `name` (a page that sends their
        browser on to the provider); None when `name` is no provider."""
        if not valid_name(name):
            return None
        async with self.db.transaction() as session:
            provider = await OAuthProviderRepository(session).get(name)
        if provider is None:
            return None
        return self.public_url + CONNECT_PATH.format(name=quote(name, safe=""))

    # -- tokens (the tool executor) -------------------------------------------------------

    async def token_for(self, user_id: str, name: str) -> str | None:
        """The user's own valid access token for the connection `name`, or None when they
        have none (or the provider no longer honours it).

        Raises an `UpstreamError` when the token has expired and the provider cannot be
        reached to refresh it.
        """
        stored = await self._stored(user_id, name)
        if stored is None or not _stale(stored):
            return self._access(stored)
        async with self._lock(user_id, name):
            stored = await self._stored(user_id, name)  # refreshed while we waited?
            if stored is None or not _stale(stored):
                return self._access(stored)
            return await self._refresh(stored)

    # -- steps ----------------------------------------------------------------------------

    async def _take(self, state: str | None) -> PendingConnection:
        pending = None
        if state:
            async with self.db.transaction() as session:
                pending = await OAuthPendingRepository(session).take(_hash(state))
        if pending is None or pending.expires_at <= datetime.now(UTC):
            raise AuthenticationFailed(
                "This connection attempt has expired, was used already or was never started; "
                "start it again.",
                code="connection_invalid_state",
            )
        return pending

    async def _connect(
        self, pending: PendingConnection, code: str | None, error: str | None
    ) -> Connection:
        provider = pending.provider
        if error:
            raise AuthenticationFailed(
                f"{provider} did not grant access: {error[:100]}", code="connection_denied"
            )
        if not code:
            raise AuthenticationFailed(f"{provider} sent no code.", code="connection_failed")
        async with self.db.transaction() as session:
            credentials = await _credentials(session, provider)
        tokens = await self._client(credentials).exchange(
            code,
            redirect_uri=self.redirect_uri,
            code_verifier=self.box.decrypt(pending.code_verifier_encrypted),
        )
        async with self.db.transaction() as session:
            connection, created = await ConnectionRepository(session).put(
                pending.user_id, provider, self._encrypted(tokens, scopes=pending.scopes)
            )
            await self._record(session, "connection.connected", pending.user_id, provider, created)
        return connection

    async def _failed(self, pending: PendingConnection, reason: str) -> None:
        await self.audit.record(
            "connection.connected",
            actor_user_id=pending.user_id,
            target_type=RESOURCE_TYPE,
            target_id=pending.provider,
            outcome="failure",
            details={"name": pending.provider, "reason": reason},
        )

    async def _refresh(self, stored: StoredTokens) -> str | None:
        name = stored.connection.name
        async with self.db.transaction() as session:
            credentials = await OAuthProviderRepository(session).credentials(name)
        if credentials is None or stored.refresh_token_encrypted is None:
            reason = "no_provider" if credentials is None else "no_refresh_token"
            return self._access(stored) if _usable(stored) else await self._drop(stored, reason)
        refresh_token = self.box.decrypt(stored.refresh_token_encrypted)
        try:
            tokens = await self._client(credentials).refresh(refresh_token)
        except GrantRefused as exc:
            return await self._drop(stored, f"refresh_refused:{exc.error}")
        except UpstreamError as exc:
            if not _usable(stored):
                raise
            log.warning("refreshing a token of %s failed; it is still valid: %s", name, exc.message)
            return self._access(stored)
        new = self._encrypted(
            tokens, scopes=stored.connection.scopes, refresh=stored.refresh_token_encrypted
        )
        async with self.db.transaction() as session:
            saved = await ConnectionRepository(session).replace_tokens(
                stored.user_id,
                name,
                previous_access_encrypted=stored.access_token_encrypted,
                tokens=new,
            )
        return tokens.access_token if saved else await self._current(stored)

    async def _drop(self, stored: StoredTokens, reason: str) -> str | None:
        """Delete a connection the provider no longer honours (unless it changed meanwhile:
        then whatever it is now)."""
        name = stored.connection.name
        async with self.db.transaction() as session:
            dropped = await ConnectionRepository(session).delete(
                stored.user_id, name, access_encrypted=stored.access_token_encrypted
            )
            if dropped is not None:
                await self.audit.record(
                    "connection.expired",
                    actor_user_id=stored.user_id,
                    target_type=RESOURCE_TYPE,
                    target_id=name,
                    details={"name": name, "reason": reason},
                    session=session,
                )
        if dropped is None:
            return await self._current(stored)
        log.info("dropped a connection to %s of %s: %s", name, stored.user_id, reason)
        return None

    async def _current(self, stored: StoredTokens) -> str | None:
        """The connection's token as it is now, after someone else changed it."""
        now = await self._stored(stored.user_id, stored.connection.name)
        return self._access(now) if now is not None and not _stale(now) else None

    async def _revoke(self, client: OAuth2Client, stored: StoredTokens) -> bool:
        """Revoke a deleted connection's tokens at the provider; failures are logged."""
        if client.endpoints.revoke_url is None:
            return False
        try:
            if stored.refresh_token_encrypted is not None:
                refresh = self.box.decrypt(stored.refresh_token_encrypted)
                await client.revoke(refresh, hint="refresh_token")
            await client.revoke(
                self.box.decrypt(stored.access_token_encrypted), hint="access_token"
            )
        except HomeportError as exc:
            log.warning(
                "revoking a connection of %s at %s failed (deleted here all the same): %s",
                stored.user_id,
                client.name,
                exc.message,
            )
            await self.audit.record(
                "connection.revoke_failed",
                actor_user_id=stored.user_id,
                target_type=RESOURCE_TYPE,
                target_id=client.name,
                outcome="failure",
                details={"name": client.name, "reason": exc.message[:300]},
            )
            return False
        return True

    # -- helpers --------------------------------------------------------------------------

    async def _stored(self, user_id: str, name: str) -> StoredTokens | None:
        async with self.db.transaction() as session:
            return await ConnectionRepository(session).tokens(user_id, name)

    def _access(self, stored: StoredTokens | None) -> str | None:
        return self.box.decrypt(stored.access_token_encrypted) if stored is not None else None

    def _lock(self, user_id: str, name: str) -> asyncio.Lock:
        """One lock per (user, connection), kept while anyone holds or awaits it."""
        lock = self._locks.get((user_id, name))
        if lock is None:
            lock = self._locks[(user_id, name)] = asyncio.Lock()
        return lock

    def _client(self, credentials: ProviderCredentials) -> OAuth2Client:
        provider, secret = credentials.provider, credentials.client_secret_encrypted
        return OAuth2Client(
            self.http,
            Endpoints(provider.authorize_url, provider.token_url, provider.revoke_url),
            client_id=provider.client_id,
            client_secret=self.box.decrypt(secret) if secret is not None else None,
            name=provider.name,
        )

    def _encrypted(
        self, tokens: TokenSet, *, scopes: tuple[str, ...], refresh: str | None = None
    ) -> NewTokens:
        """Tokens to store: a refresh token the provider did not rotate is kept."""
        return NewTokens(
            kind=ConnectionKind.OAUTH2,
            access_token_encrypted=self.box.encrypt(tokens.access_token),
            refresh_token_encrypted=(
                self.box.encrypt(tokens.refresh_token) if tokens.refresh_token else refresh
            ),
            expires_at=tokens.expires_at,
            scopes=tokens.scopes if tokens.scopes is not None else scopes,
        )

    def _provider_values(self, spec: ProviderSpec) -> ProviderValues:
        check_url(spec.authorize_url, "authorize_url")
        check_url(spec.token_url, "token_url")
        if spec.revoke_url is not None:
            check_url(spec.revoke_url, "revoke_url")
        check_text(spec.client_id, "client_id", MAX_CLIENT_ID)
        if spec.client_secret is not None:
            check_text(spec.client_secret, "client_secret", MAX_CLIENT_SECRET)
        secret = spec.client_secret
        return ProviderValues(
            authorize_url=spec.authorize_url,
            token_url=spec.token_url,
            revoke_url=spec.revoke_url,
            client_id=spec.client_id,
            client_secret_encrypted=self.box.encrypt(secret) if secret is not None else None,
            scopes=checked_scopes(list(spec.scopes)),
        )

    async def _record(
        self, session: AsyncSession, action: str, user_id: str, name: str, created: bool | None
    ) -> None:
        details: dict[str, object] = {"name": name}
        if created is not None:
            details["created"] = created
        await self.audit.record(
            action,
            actor_user_id=user_id,
            target_type=RESOURCE_TYPE,
            target_id=name,
            details=details,
            session=session,
        )


class ConnectionsOwnedData:
    """A deleted user's connections go with them, even when an heir gets the rest: a
    credential is its owner's alone."""

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> None:
        await ConnectionRepository(session).erase(from_user_id)

    async def erase(self, session: AsyncSession, user_id: str) -> None:
        await ConnectionRepository(session).erase(user_id)


def connected_path(provider: str) -> str:
    """The web UI's page a browser returns to after connecting."""
    return f"/connections?connected={quote(provider, safe='')}"


async def _credentials(session: AsyncSession, name: str) -> ProviderCredentials:
    credentials = await OAuthProviderRepository(session).credentials(name)
    if credentials is None:
        raise NotFound(f"there is no OAuth2 provider named {name}", param="provider")
    return credentials


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _stale(stored: StoredTokens) -> bool:
    """An OAuth2 token that expires within the refresh margin (personal ones never do)."""
    connection = stored.connection
    return connection.kind is ConnectionKind.OAUTH2 and needs_refresh(
        connection.expires_at, datetime.now(UTC)
    )


def _usable(stored: StoredTokens) -> bool:
    """Not yet expired, if soon to be."""
    expires_at = stored.connection.expires_at
    return expires_at is None or expires_at > datetime.now(UTC)
