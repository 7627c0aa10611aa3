"""Runner tokens and the model catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import ModelRow, RunnerTokenRow, utcnow
from homeport.domain.ids import new_id
from homeport.domain.runners import ModelSpec


@dataclass(frozen=True, slots=True)
class RunnerToken:
    id: str
    name: str
    prefix: str
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredModel:
    spec: ModelSpec
    source: str
    created_at: datetime
    updated_at: datetime


def _token(row: RunnerTokenRow) -> RunnerToken:
    return RunnerToken(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _model(row: ModelRow) -> StoredModel:
    spec = ModelSpec(
        name=row.name,
        engine=row.engine,
        weights=row.weights,
        kind=row.kind,  # type: ignore[arg-type]
        context_length=row.context_length,
        memory_bytes=row.memory_bytes,
        concurrency=row.concurrency,
        min_instances=row.min_instances,
        runners=tuple(row.runners or ()),
        options=dict(row.options or {}),
    )
    return StoredModel(spec, row.source, row.created_at, row.updated_at)


class RunnerTokenRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def create(
        self, *, name: str, prefix: str, secret_hash: str, created_by: str | None
    ) -> RunnerToken:
        row = RunnerTokenRow(
            id=new_id("rtok"),
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            created_by=created_by,
        )
        self.session.add(row)
        await self.session.flush()
        return _token(row)

    async def list(self) -> list[RunnerToken]:
        rows = await self.session.scalars(select(RunnerTokenRow).order_by(RunnerTokenRow.name))
        return [_token(r) for r in rows]

    async def by_name(self, name: str) -> RunnerToken | None:
        row = await self.session.scalar(select(RunnerTokenRow).where(RunnerTokenRow.name == name))
        return _token(row) if row else None

    async def by_hash(self, secret_hash: str) -> RunnerToken | None:
        row = await self.session.scalar(
            select(RunnerTokenRow).where(RunnerTokenRow.secret_hash == secret_hash)
        )
        return _token(row) if row else None

    async def revoke(self, name: str) -> bool:
        result = await self.session.execute(
            update(RunnerTokenRow)
            .where(RunnerTokenRow.name == name, RunnerTokenRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))

    async def delete(self, name: str) -> None:
        await self.session.execute(delete(RunnerTokenRow).where(RunnerTokenRow.name == name))

    async def touch(self, token_id: str) -> None:
        await self.session.execute(
            update(RunnerTokenRow)
            .where(RunnerTokenRow.id == token_id)
            .values(last_used_at=utcnow())
        )


class ModelRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def list(self) -> list[StoredModel]:
        rows = await self.session.scalars(select(ModelRow).order_by(ModelRow.name))
        return [_model(r) for r in rows]

    async def get(self, name: str) -> StoredModel | None:
        row = await self.session.get(ModelRow, name)
        return _model(row) if row else None

    async def upsert(self, spec: ModelSpec, *, source: str) -> tuple[StoredModel, bool]:
        row = await self.session.get(ModelRow, spec.name)
        created = row is None
        if row is None:
            row = ModelRow(name=spec.name)
            self.session.add(row)
        values: dict[str, Any] = spec.to_wire()
        values.pop("name")
        for field, value in values.items():
            setattr(row, field, value)
        row.source = source
        row.updated_at = utcnow()
        await self.session.flush()
        return _model(row), created

    async def delete(self, name: str) -> bool:
        result = await self.session.execute(delete(ModelRow).where(ModelRow.name == name))
        return bool(getattr(result, "rowcount", 0))
