"""Users' secrets: names and timestamps out, encrypted values only where asked for; and the
re-encryption of every encrypted value after a key rotation."""

from __future__ import annotations

from collections.abc import Callable, Collection

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import (
    Base,
    OAuthPendingRow,
    OAuthProviderRow,
    ProviderRow,
    SecretRow,
    UserConnectionRow,
    utcnow,
)
from homeport.domain.ids import new_id
from homeport.domain.secrets import Secret
from homeport.errors import Conflict


def _secret(row: SecretRow) -> Secret:
    return Secret(
        id=row.id,
        owner_id=row.owner_id,
        name=row.name,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SecretRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def owned_by(self, owner_id: str) -> list[Secret]:
        rows = await self.session.scalars(
            select(SecretRow).where(SecretRow.owner_id == owner_id).order_by(SecretRow.name)
        )
        return [_secret(row) for row in rows]

    async def put(self, owner_id: str, name: str, value_encrypted: str) -> tuple[Secret, bool]:
        """Create or replace by name; returns the secret and whether it was created."""
        row = await self._row(owner_id, name)
        if row is not None:
            row.value_encrypted = value_encrypted
            row.updated_at = utcnow()
            await self.session.flush()
            return _secret(row), False
        now = utcnow()
        row = SecretRow(
            id=new_id("sec"),
            owner_id=owner_id,
            name=name,
            value_encrypted=value_encrypted,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise Conflict(
                f"secret {name} was set by another request at the same moment; try again",
                param="name",
            ) from exc
        return _secret(row), True

    async def delete(self, owner_id: str, name: str) -> Secret | None:
        row = await self._row(owner_id, name)
        if row is None:
            return None
        await self.session.delete(row)
        await self.session.flush()
        return _secret(row)

    async def encrypted(self, owner_id: str, names: Collection[str]) -> dict[str, str]:
        """The encrypted values of those of `names` the owner has."""
        if not names:
            return {}
        rows = await self.session.execute(
            select(SecretRow.name, SecretRow.value_encrypted).where(
                SecretRow.owner_id == owner_id, SecretRow.name.in_(list(names))
            )
        )
        return {name: value for name, value in rows}

    async def names(self, owner_id: str, names: Collection[str]) -> set[str]:
        """Those of `names` the owner has."""
        if not names:
            return set()
        found = await self.session.scalars(
            select(SecretRow.name).where(
                SecretRow.owner_id == owner_id, SecretRow.name.in_(list(names))
            )
        )
        return set(found)

    async def hand_over(self, from_user_id: str, to_user_id: str) -> None:
        """Give the heir the user's secrets; where the heir has one of the same name, the
        heir's stays and the user's goes."""
        taken = select(SecretRow.name).where(SecretRow.owner_id == to_user_id)
        await self.session.execute(
            delete(SecretRow).where(SecretRow.owner_id == from_user_id, SecretRow.name.in_(taken))
        )
        await self.session.execute(
            update(SecretRow).where(SecretRow.owner_id == from_user_id).values(owner_id=to_user_id)
        )

    async def erase(self, owner_id: str) -> None:
        await self.session.execute(delete(SecretRow).where(SecretRow.owner_id == owner_id))

    async def _row(self, owner_id: str, name: str) -> SecretRow | None:
        return await self.session.scalar(
            select(SecretRow).where(SecretRow.owner_id == owner_id, SecretRow.name == name)
        )


# Every encrypted value the database holds, by table: what re-encryption after a key
# rotation must cover (a new encrypted column belongs here).
ENCRYPTED: dict[str, tuple[type[Base], tuple[str, ...]]] = {
    "secrets": (SecretRow, ("value_encrypted",)),
    "provider_keys": (ProviderRow, ("api_key_encrypted",)),
    "oauth_client_secrets": (OAuthProviderRow, ("client_secret_encrypted",)),
    "connection_tokens": (UserConnectionRow, ("access_token_encrypted", "refresh_token_encrypted")),
    "oauth_pending": (OAuthPendingRow, ("code_verifier_encrypted",)),
}


async def reencrypt_all(session: AsyncSession, rotate: Callable[[str], str]) -> dict[str, int]:
    """Every encrypted value rewritten by `rotate`, counted by kind. Each update applies only
    if the value is still the one read, so a value changed meanwhile (a refreshed token) is
    kept as it is: it was encrypted under the current key already."""
    counts: dict[str, int] = {}
    for kind, (table, columns) in ENCRYPTED.items():
        key = inspect(table).primary_key[0]
        counts[kind] = 0
        for column_name in columns:
            column = getattr(table, column_name)
            rows = await session.execute(select(key, column).where(column.is_not(None)))
            for row_key, value in rows.all():
                await session.execute(
                    update(table)
                    .where(key == row_key, column == value)
                    .values({column_name: rotate(value)})
                )
                counts[kind] += 1
    return counts
