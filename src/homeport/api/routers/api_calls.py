"""The log of calls apps' assistants made to APIs, for admins (/api/v1/api-calls)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from homeport.api.deps import AuditReader, ServicesDep

router = APIRouter(prefix="/api/v1/api-calls", tags=["api-calls"])


class ApiCallPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[dict[str, Any]]
    has_more: bool


@router.get("")
async def list_calls(
    services: ServicesDep,
    admin: AuditReader,
    app: str | None = Query(default=None, description="Only this app's calls"),
    user: str | None = Query(default=None, description="Only this user's calls (an id)"),
    before: datetime | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> ApiCallPage:
    """Newest first: user, app and version, API, operation, method, status, latency, error.
    Bodies and credentials are never logged."""
    records = await services.tools.calls(app=app, user_id=user, before=before, limit=limit + 1)
    return ApiCallPage(data=[r.to_dict() for r in records[:limit]], has_more=len(records) > limit)
