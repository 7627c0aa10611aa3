"""Declarative resources (/api/v1/apply), the server side of `homeport apply -f`."""

from __future__ import annotations

from fastapi import APIRouter

from homeport.api.deps import ApplyCaller, ServicesDep
from homeport.api.schemas.rest import ApplyIn, ApplyResultOut
from homeport.errors import ValidationFailed
from homeport.services.apply import Resource

router = APIRouter(prefix="/api/v1", tags=["apply"])


@router.post("/apply")
async def apply(
    body: ApplyIn, services: ServicesDep, principal: ApplyCaller
) -> list[ApplyResultOut]:
    resources = []
    for index, item in enumerate(body.resources):
        name = item.metadata.get("name")
        if not isinstance(name, str) or not name:
            raise ValidationFailed(
                f"resource {index} ({item.kind}) has no metadata.name", param="metadata.name"
            )
        context = {"label": body.version_label, "git": body.git or {}}
        resources.append(
            Resource(
                kind=item.kind,
                name=name,
                spec=item.spec,
                api_version=item.api_version,
                context=context,
            )
        )
    outcomes = await services.apply.apply(principal, resources, dry_run=body.dry_run)
    return [
        ApplyResultOut(
            kind=o.kind,
            name=o.name,
            action=o.action,
            dry_run=o.dry_run,
            version=o.detail.get("version"),
            diff=o.detail.get("diff"),
        )
        for o in outcomes
    ]
