"""OAuth2 providers, users' connections, and connections in progress.

Tokens, client secrets and PKCE verifiers are stored encrypted and leave here only encrypted,
only through the methods that name them (`credentials`, `tokens`, `take`). Every query of a
connection is by user id and name: there is no way to read a token by name alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import OAuthPendingRow, OAuthProviderRow, UserConnectionRow, utcnow
from homeport.domain.connections import Connection, ConnectionKind, OAuthProvider
from homeport.domain.ids import new_id
from homeport.errors import Conflict


@dataclass(frozen=True, slots=True)
class ProviderCredentials:
    provider: OAuthProvider
    client_secret_encrypted: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class StoredTokens:
    user_id: str
    connection: Connection
    access_token_encrypted: str = field(repr=False)
    refresh_token_encrypted: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class NewTokens:
    """Encrypted tokens to store for a connection."""

    kind: ConnectionKind
    access_token_encrypted: str = field(repr=False)
    refresh_token_encrypted: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PendingConnection:
    user_id: str
    provider: str
    code_verifier_encrypted: str = field(repr=False)
    scopes: tuple[str, ...]
    redirect_to: str | None
    expires_at: datetime


def _provider(row: OAuthProviderRow) -> OAuthProvider:
    return OAuthProvider(
        name=row.name,
        authorize_url=row.authorize_url,
        token_url=row.token_url,
        revoke_url=row.revoke_url,
        client_id=row.client_id,
        scopes=tuple(row.scopes or ()),
        confidential=row.client_secret_encrypted is not None,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _connection(row: UserConnectionRow) -> Connection:
    return Connection(
        name=row.name,
        kind=ConnectionKind(row.kind),
        scopes=tuple(row.scopes or ()),
        expires_at=row.expires_at,
        connected_at=row.updated_at,
    )


def _stored(row: UserConnectionRow) -> StoredTokens:
    return StoredTokens(
        user_id=row.user_id,
        connection=_connection(row),
        access_token_encrypted=row.access_token_encrypted,
        refresh_token_encrypted=row.refresh_token_encrypted,
    )


@dataclass(frozen=True, slots=True)
class ProviderValues:
    """An OAuth2 provider as an admin puts it (the client secret encrypted)."""

    authorize_url: str
    token_url: str
    revoke_url: str | None
    client_id: str
    client_secret_encrypted: str | None = field(repr=False)
    scopes: tuple[str, ...]


class OAuthProviderRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def all(self) -> list[OAuthProvider]:
        rows = await self.session.scalars(select(OAuthProviderRow).order_by(OAuthProviderRow.name))
        return [_provider(row) for row in rows]

    async def get(self, name: str) -> OAuthProvider | None:
        row = await self._row(name)
        return _provider(row) if row else None

    async def credentials(self, name: str) -> ProviderCredentials | None:
        row = await self._row(name)
        return ProviderCredentials(_provider(row), row.client_secret_encrypted) if row else None

    async def put(
        self, name: str, values: ProviderValues, *, actor_id: str | None
    ) -> tuple[OAuthProvider, bool]:
        """Create or replace (every field) by name; returns it and whether it was created."""
        row = await self._row(name)
        created, now = row is None, utcnow()
        if row is None:
            row = OAuthProviderRow(id=new_id("oap"), name=name, created_by=actor_id, created_at=now)
        row.authorize_url, row.token_url = values.authorize_url, values.token_url
        row.revoke_url, row.client_id = values.revoke_url, values.client_id
        row.client_secret_encrypted = values.client_secret_encrypted
        row.scopes, row.updated_at = list(values.scopes), now
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise Conflict(
                f"provider {name} was set by another request at the same moment; try again",
                param="name",
            ) from exc
        return _provider(row), created

    async def delete(self, name: str) -> OAuthProvider | None:
        row = await self._row(name)
        if row is None:
            return None
        await self.session.delete(row)
        await self.session.flush()
        return _provider(row)

    async def _row(self, name: str) -> OAuthProviderRow | None:
        return await self.session.scalar(
            select(OAuthProviderRow).where(OAuthProviderRow.name == name)
        )


class ConnectionRepository:
    """One user's connections at a time: every method takes the user's id."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def owned_by(self, user_id: str) -> list[Connection]:
        rows = await self.session.scalars(
            select(UserConnectionRow)
            .where(UserConnectionRow.user_id == user_id)
            .order_by(UserConnectionRow.name)
        )
        return [_connection(row) for row in rows]

    async def tokens(self, user_id: str, name: str) -> StoredTokens | None:
        row = await self._row(user_id, name)
        return _stored(row) if row else None

    async def put(self, user_id: str, name: str, tokens: NewTokens) -> tuple[Connection, bool]:
        """Create or replace by name; returns the connection and whether it is new."""
        row = await self._row(user_id, name)
        created = row is None
        now = utcnow()
        if row is None:
            row = UserConnectionRow(id=new_id("con"), user_id=user_id, name=name, created_at=now)
        row.kind = tokens.kind.value
        row.access_token_encrypted = tokens.access_token_encrypted
        row.refresh_token_encrypted = tokens.refresh_token_encrypted
        row.expires_at, row.scopes, row.updated_at = tokens.expires_at, list(tokens.scopes), now
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise Conflict(
                f"connection {name} was set by another request at the same moment; try again",
                param="name",
            ) from exc
        return _connection(row), created

    async def replace_tokens(
        self, user_id: str, name: str, *, previous_access_encrypted: str, tokens: NewTokens
    ) -> bool:
        """Store refreshed tokens, only if the stored ones are still `previous_...` (not
        deleted, not refreshed by someone else meanwhile); returns whether they were."""
        result = await self.session.execute(
            update(UserConnectionRow)
            .where(
                UserConnectionRow.user_id == user_id,
                UserConnectionRow.name == name,
                UserConnectionRow.access_token_encrypted == previous_access_encrypted,
            )
            .values(
                access_token_encrypted=tokens.access_token_encrypted,
                refresh_token_encrypted=tokens.refresh_token_encrypted,
                expires_at=tokens.expires_at,
                scopes=list(tokens.scopes),
            )
        )
        return getattr(result, "rowcount", 0) == 1

    async def delete(
        self, user_id: str, name: str, *, access_encrypted: str | None = None
    ) -> StoredTokens | None:
        """Delete the connection (only if its access token is still `access_encrypted`,
        when given); returns what was deleted."""
        row = await self._row(user_id, name)
        if row is None or access_encrypted not in (None, row.access_token_encrypted):
            return None
        await self.session.delete(row)
        await self.session.flush()
        return _stored(row)

    async def delete_oauth_to(self, provider: str) -> list[StoredTokens]:
        """Delete every user's OAuth2 connection to `provider`; returns them."""
        rows = list(
            await self.session.scalars(
                select(UserConnectionRow).where(
                    UserConnectionRow.name == provider,
                    UserConnectionRow.kind == ConnectionKind.OAUTH2.value,
                )
            )
        )
        for row in rows:
            await self.session.delete(row)
        await self.session.flush()
        return [_stored(row) for row in rows]

    async def erase(self, user_id: str) -> None:
        await self.session.execute(
            delete(UserConnectionRow).where(UserConnectionRow.user_id == user_id)
        )
        await self.session.execute(
            delete(OAuthPendingRow).where(OAuthPendingRow.user_id == user_id)
        )

    async def _row(self, user_id: str, name: str) -> UserConnectionRow | None:
        return await self.session.scalar(
            select(UserConnectionRow).where(
                UserConnectionRow.user_id == user_id, UserConnectionRow.name == name
            )
        )


class OAuthPendingRepository:
    """Connections in progress, by the hash of their state; each is taken once."""

    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(self, state_hash: str, pending: PendingConnection) -> None:
        self.session.add(
            OAuthPendingRow(
                state_hash=state_hash,
                user_id=pending.user_id,
                provider=pending.provider,
                code_verifier_encrypted=pending.code_verifier_encrypted,
                scopes=list(pending.scopes),
                redirect_to=pending.redirect_to,
                expires_at=pending.expires_at,
            )
        )
        await self.session.flush()

    async def take(self, state_hash: str) -> PendingConnection | None:
        """The connection in progress with this state, removed so it cannot be used twice."""
        row = await self.session.get(OAuthPendingRow, state_hash)
        if row is None:
            return None
        pending = PendingConnection(
            user_id=row.user_id,
            provider=row.provider,
            code_verifier_encrypted=row.code_verifier_encrypted,
            scopes=tuple(row.scopes or ()),
            redirect_to=row.redirect_to,
            expires_at=row.expires_at,
        )
        result = await self.session.execute(
            delete(OAuthPendingRow).where(OAuthPendingRow.state_hash == state_hash)
        )
        # Another request took it between the read and the delete: it is theirs.
        return pending if getattr(result, "rowcount", 0) == 1 else None

    async def purge(self, *, expired_before: datetime) -> None:
        await self.session.execute(
            delete(OAuthPendingRow).where(OAuthPendingRow.expires_at < expired_before)
        )
