"""Provider connections."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import ProviderRow, utcnow
from homeport.domain.ids import new_id
from homeport.domain.providers import ProviderConfig


def _provider(row: ProviderRow) -> ProviderConfig:
    return ProviderConfig(
        id=row.id,
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]
        base_url=row.base_url,
        has_api_key=row.api_key_encrypted is not None,
        models_allowed=tuple(row.models_allowed) if row.models_allowed is not None else None,
        source=row.source,
        created_at=row.created_at,
        updated_at=row.updated_at,
        options=dict(row.options or {}),
    )


class ProviderRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def list(self) -> list[ProviderConfig]:
        rows = await self.session.scalars(select(ProviderRow).order_by(ProviderRow.name))
        return [_provider(r) for r in rows]

    async def get(self, name: str) -> ProviderConfig | None:
        row = await self._row(name)
        return _provider(row) if row else None

    async def encrypted_key(self, name: str) -> str | None:
        row = await self._row(name)
        return row.api_key_encrypted if row else None

    async def upsert(self, *, name: str, values: dict[str, Any]) -> tuple[ProviderConfig, bool]:
        """Create or update by name; returns the record and whether it was created."""
        row = await self._row(name)
        created = row is None
        if row is None:
            row = ProviderRow(id=new_id("prov"), name=name)
            self.session.add(row)
        for field, value in values.items():
            setattr(row, field, value)
        row.updated_at = utcnow()
        await self.session.flush()
        return _provider(row), created

    async def delete(self, name: str) -> bool:
        result = await self.session.execute(delete(ProviderRow).where(ProviderRow.name == name))
        return bool(getattr(result, "rowcount", 0))

    async def _row(self, name: str) -> ProviderRow | None:
        return await self.session.scalar(select(ProviderRow).where(ProviderRow.name == name))
