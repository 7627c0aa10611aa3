"""Users' secrets: names and timestamps out, encrypted values only where asked for."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import SecretRow, utcnow
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

    async def all_encrypted(self) -> list[tuple[str, str]]:
        """(id, encrypted value) of every secret, for re-encryption under a new key."""
        rows = await self.session.execute(select(SecretRow.id, SecretRow.value_encrypted))
        return [(secret_id, value) for secret_id, value in rows]

    async def set_encrypted(self, secret_id: str, value_encrypted: str) -> None:
        await self.session.execute(
            update(SecretRow)
            .where(SecretRow.id == secret_id)
            .values(value_encrypted=value_encrypted)
        )

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
