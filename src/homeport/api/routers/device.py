"""Device-flow sign-in for the CLI (/api/v1/auth/device): see `homeport.services.device`.

Starting and polling are public (the device has no credential yet); looking at and approving
a waiting sign-in need a signed-in person who may hold API keys.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from homeport.api.deps import KeysCaller, ServicesDep
from homeport.api.routers.auth import client_of
from homeport.api.schemas.device import (
    DeviceApproveIn,
    DeviceAuthorizationOut,
    DeviceRequestOut,
    DeviceStartIn,
    DeviceTokenIn,
)
from homeport.api.schemas.rest import KeyCreated, KeyOut

router = APIRouter(prefix="/api/v1/auth/device", tags=["auth"])


@router.post("")
async def start(
    body: DeviceStartIn, request: Request, services: ServicesDep
) -> DeviceAuthorizationOut:
    """Public: codes for a device that wants to sign in (`homeport login --device`)."""
    started = await services.device.start(body.client_name, ip=client_of(request).ip)
    return DeviceAuthorizationOut.of(started)


@router.get("/approve")
async def pending(
    services: ServicesDep,
    principal: KeysCaller,
    user_code: str = Query(min_length=1, max_length=32),
) -> DeviceRequestOut:
    """The waiting sign-in with this code: which device asks, and since when."""
    return DeviceRequestOut.of(await services.device.pending(principal, user_code))


@router.post("/approve")
async def approve(
    body: DeviceApproveIn, request: Request, services: ServicesDep, principal: KeysCaller
) -> DeviceRequestOut:
    """Approve (or deny) a waiting sign-in; the device then gets an API key of yours."""
    decided = await services.device.decide(
        principal, body.user_code, approve=body.approve, ip=client_of(request).ip
    )
    return DeviceRequestOut.of(decided)


@router.post("/token")
async def token(body: DeviceTokenIn, services: ServicesDep) -> KeyCreated:
    """Public: the device polls here; errors (400) say `authorization_pending`, `slow_down`,
    `expired_token` or `access_denied` until the new key is returned, once."""
    created = await services.device.poll(body.device_code)
    return KeyCreated(**KeyOut.of(created.key).model_dump(), key=created.secret)
