"""Usage reports (/api/v1/usage) and quotas (/api/v1/quotas, admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from homeport.api.deps import ServicesDep, SettingsAdmin, UsageCaller
from homeport.api.schemas.usage import QuotaIn, QuotaList, QuotaOut, UsageReport, UsageRowOut
from homeport.domain.usage import GROUPS, Group, UsageFilter
from homeport.errors import ValidationFailed

router = APIRouter(prefix="/api/v1", tags=["usage"])

GROUP_BY_HELP = (
    "Any of user, key, app, model, provider, operation, day, hour: repeated or comma-separated"
)


@router.get("/usage", response_model_exclude_unset=True)
async def usage_report(
    services: ServicesDep,
    principal: UsageCaller,
    group_by: Annotated[list[str] | None, Query(description=GROUP_BY_HELP)] = None,
    user: Annotated[str | None, Query(description="A user's id or name (admins)")] = None,
    key: Annotated[str | None, Query(description="An API key's id")] = None,
    app: str | None = None,
    model: Annotated[str | None, Query(description="A full model id, provider/name")] = None,
    provider: str | None = None,
    since: Annotated[datetime | None, Query(description="From (inclusive; UTC if naive)")] = None,
    until: Annotated[datetime | None, Query(description="To (exclusive; UTC if naive)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> UsageReport:
    groups = _groups(group_by or [])
    where = UsageFilter(
        user_id=user,
        key_id=key,
        app=app,
        model=model,
        provider=provider,
        since=since,
        until=until,
    )
    rows, has_more = await services.usage.report(principal, where, group_by=groups, limit=limit)
    return UsageReport(
        object="list",  # set, so that excluding unset fields keeps it
        group_by=list(groups),
        data=[UsageRowOut.of(r) for r in rows],
        has_more=has_more,
    )


def _groups(values: list[str]) -> list[Group]:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown:
        raise ValidationFailed(
            f"cannot group by {', '.join(unknown)}; use {', '.join(GROUPS)}", param="group_by"
        )
    return [g for n in names for g in GROUPS if g == n]


# Quotas are server-wide policy over capacity and cost (users, keys, apps and the default
# alike), so they take the settings permission rather than the user-management one.


@router.get("/quotas")
async def list_quotas(services: ServicesDep, admin: SettingsAdmin) -> QuotaList:
    return QuotaList(data=[QuotaOut.of(q) for q in await services.limits.list()])


@router.get("/quotas/{subject_type}/{subject_id}")
async def get_quota(
    subject_type: str, subject_id: str, services: ServicesDep, admin: SettingsAdmin
) -> QuotaOut:
    return QuotaOut.of(await services.limits.get(subject_type, subject_id))


@router.put("/quotas/{subject_type}/{subject_id}")
async def put_quota(
    subject_type: str,
    subject_id: str,
    body: QuotaIn,
    services: ServicesDep,
    admin: SettingsAdmin,
) -> QuotaOut:
    quota = await services.limits.put(
        admin,
        subject_type,
        subject_id,
        requests_per_minute=body.requests_per_minute,
        tokens_per_day=body.tokens_per_day,
    )
    return QuotaOut.of(quota)


@router.delete("/quotas/{subject_type}/{subject_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_quota(
    subject_type: str, subject_id: str, services: ServicesDep, admin: SettingsAdmin
) -> Response:
    await services.limits.delete(admin, subject_type, subject_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
