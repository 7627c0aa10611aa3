"""The audit log, for admins (/api/v1/audit)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from homeport.api.deps import AuditReader, ServicesDep
from homeport.api.schemas.rest import AuditEventOut, AuditPage

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
async def list_events(
    services: ServicesDep,
    admin: AuditReader,
    limit: int = Query(default=50, ge=1, le=500),
    before: str | None = Query(default=None, description="The last id of the previous page"),
    action: str | None = Query(default=None, description="An action, or a prefix with '*'"),
    actor: str | None = Query(default=None, description="The acting user's id"),
    target: str | None = Query(default=None, description="The target's id"),
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditPage:
    events, has_more = await services.audit.page(
        limit=limit,
        before=before,
        action=action,
        actor_user_id=actor,
        target_id=target,
        since=since,
        until=until,
    )
    return AuditPage(
        data=[AuditEventOut.of(e) for e in events],
        has_more=has_more,
        last_id=events[-1].id if events else None,
    )
