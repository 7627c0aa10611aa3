"""The log of API calls: appended as calls are made, read newest first by admins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import ApiCallRow, utcnow
from homeport.domain.ids import new_id
from homeport.domain.tools import ApiCall, ApiCallRecord


def _record(row: ApiCallRow) -> ApiCallRecord:
    call = ApiCall(
        api=row.api,
        operation=row.operation,
        method=row.method,
        status=row.status,
        latency_ms=row.latency_ms,
        error=row.error,
    )
    return ApiCallRecord(row.id, row.at, row.user_id, row.app, row.app_version, call)


class ApiCallRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self, call: ApiCall, *, user_id: str | None, app: str, app_version: int
    ) -> ApiCallRecord:
        row = ApiCallRow(
            id=new_id("call"),
            at=utcnow(),
            user_id=user_id,
            app=app,
            app_version=app_version,
            api=call.api,
            operation=call.operation,
            method=call.method,
            status=call.status,
            latency_ms=call.latency_ms,
            error=call.error,
        )
        self.session.add(row)
        await self.session.flush()
        return _record(row)

    async def recent(
        self,
        *,
        app: str | None = None,
        user_id: str | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[ApiCallRecord]:
        query = select(ApiCallRow).order_by(ApiCallRow.at.desc(), ApiCallRow.id.desc())
        if app is not None:
            query = query.where(ApiCallRow.app == app)
        if user_id is not None:
            query = query.where(ApiCallRow.user_id == user_id)
        if before is not None:
            query = query.where(ApiCallRow.at < before)
        return [_record(row) for row in await self.session.scalars(query.limit(limit))]
