"""The audit log: appended to, read, never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import AuditRow
from homeport.domain.audit import AuditEvent
from homeport.domain.ids import new_id


def _event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        action=row.action,
        outcome=row.outcome,
        actor_user_id=row.actor_user_id,
        actor_key_id=row.actor_key_id,
        target_type=row.target_type,
        target_id=row.target_id,
        ip=row.ip,
        details=dict(row.details or {}),
    )


class AuditRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def append(self, **values: Any) -> AuditEvent:
        row = AuditRow(id=new_id("audit"), **values)
        self.session.add(row)
        await self.session.flush()
        return _event(row)

    async def page(
        self,
        *,
        limit: int,
        before: str | None = None,
        action: str | None = None,
        actor_user_id: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[AuditEvent], bool]:
        """Newest first; `before` is the last id of the previous page."""
        query = select(AuditRow)
        if before:
            query = query.where(AuditRow.id < before)
        if action:
            query = query.where(
                AuditRow.action.startswith(action.removesuffix("*"))
                if action.endswith("*")
                else AuditRow.action == action
            )
        if actor_user_id:
            query = query.where(AuditRow.actor_user_id == actor_user_id)
        if target_id:
            query = query.where(AuditRow.target_id == target_id)
        if since:
            query = query.where(AuditRow.at >= since)
        if until:
            query = query.where(AuditRow.at < until)
        rows = list(await self.session.scalars(query.order_by(AuditRow.id.desc()).limit(limit + 1)))
        return [_event(r) for r in rows[:limit]], len(rows) > limit
