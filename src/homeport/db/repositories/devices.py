"""Device-flow sign-ins: codes a CLI polls with and people approve in the browser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import DeviceCodeRow
from homeport.domain.ids import new_id

PENDING, APPROVED, DENIED, DONE = "pending", "approved", "denied", "done"


@dataclass(frozen=True, slots=True)
class DeviceCode:
    id: str
    client_name: str
    status: str
    user_id: str | None
    created_at: datetime
    expires_at: datetime
    last_polled_at: datetime | None


def _code(row: DeviceCodeRow) -> DeviceCode:
    return DeviceCode(
        id=row.id,
        client_name=row.client_name,
        status=row.status,
        user_id=row.user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_polled_at=row.last_polled_at,
    )


class DeviceCodeRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self, *, device_code_hash: str, user_code_hash: str, client_name: str, expires_at: datetime
    ) -> DeviceCode:
        row = DeviceCodeRow(
            id=new_id("device"),
            device_code_hash=device_code_hash,
            user_code_hash=user_code_hash,
            client_name=client_name,
            status=PENDING,
            expires_at=expires_at,
        )
        self.session.add(row)
        await self.session.flush()
        return _code(row)

    async def by_device_code(self, device_code_hash: str) -> DeviceCode | None:
        row = await self.session.scalar(
            select(DeviceCodeRow).where(DeviceCodeRow.device_code_hash == device_code_hash)
        )
        return _code(row) if row else None

    async def by_user_code(self, user_code_hash: str) -> DeviceCode | None:
        row = await self.session.scalar(
            select(DeviceCodeRow).where(DeviceCodeRow.user_code_hash == user_code_hash)
        )
        return _code(row) if row else None

    async def polled(self, code_id: str, when: datetime) -> None:
        await self.session.execute(
            update(DeviceCodeRow).where(DeviceCodeRow.id == code_id).values(last_polled_at=when)
        )

    async def decide(self, code_id: str, *, status: str, user_id: str) -> bool:
        """Approve or deny a pending code; False when it was no longer pending."""
        result = await self.session.execute(
            update(DeviceCodeRow)
            .where(DeviceCodeRow.id == code_id, DeviceCodeRow.status == PENDING)
            .values(status=status, user_id=user_id)
        )
        return getattr(result, "rowcount", 0) == 1

    async def finish(self, code_id: str) -> bool:
        """Mark an approved code used; False when another poll got there first."""
        result = await self.session.execute(
            update(DeviceCodeRow)
            .where(DeviceCodeRow.id == code_id, DeviceCodeRow.status == APPROVED)
            .values(status=DONE)
        )
        return getattr(result, "rowcount", 0) == 1

    async def count_pending(self, now: datetime) -> int:
        query = select(func.count()).where(
            DeviceCodeRow.status == PENDING, DeviceCodeRow.expires_at > now
        )
        return int(await self.session.scalar(query) or 0)

    async def purge(self, *, expired_before: datetime) -> None:
        await self.session.execute(
            delete(DeviceCodeRow).where(DeviceCodeRow.expires_at < expired_before)
        )
