"""Sharing resources with users, teams and organizations (/api/v1/sharing).

`{resource_type}` is a registered shareable type (today: `provider`); services/sharing.py
says who may change a resource's grants.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from homeport.api.deps import ServicesDep, SharingCaller
from homeport.api.schemas.access import GrantIn, GrantOut, OwnerOut, TransferIn

router = APIRouter(prefix="/api/v1/sharing", tags=["sharing"])


@router.get("/{resource_type}/{resource_id}")
async def list_grants(
    resource_type: str, resource_id: str, services: ServicesDep, principal: SharingCaller
) -> list[GrantOut]:
    grants = await services.sharing.grants(principal, resource_type, resource_id)
    return [GrantOut.of(g) for g in grants]


@router.post("/{resource_type}/{resource_id}", status_code=status.HTTP_201_CREATED)
async def add_grant(
    resource_type: str,
    resource_id: str,
    body: GrantIn,
    services: ServicesDep,
    principal: SharingCaller,
) -> GrantOut:
    """Share with a user, a team or an organization; granting a subject again updates it."""
    shared = await services.sharing.grant(
        principal,
        resource_type,
        resource_id,
        subject_type=body.subject_type,
        subject=body.subject,
        permission=body.permission,
    )
    return GrantOut.of(shared)


@router.delete("/{resource_type}/{resource_id}/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_grant(
    resource_type: str,
    resource_id: str,
    grant_id: str,
    services: ServicesDep,
    principal: SharingCaller,
) -> None:
    await services.sharing.revoke(principal, resource_type, resource_id, grant_id)


@router.post("/{resource_type}/{resource_id}/transfer")
async def transfer(
    resource_type: str,
    resource_id: str,
    body: TransferIn,
    services: ServicesDep,
    principal: SharingCaller,
) -> OwnerOut:
    """Make another user the owner (for resource types that have owners)."""
    resource = await services.sharing.transfer(principal, resource_type, resource_id, body.to_user)
    return OwnerOut.of(resource)
