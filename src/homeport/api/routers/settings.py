"""Server settings that admins change at run time (/api/v1/settings)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from homeport.api.deps import ServicesDep, SettingsAdmin
from homeport.api.routers.auth import client_of
from homeport.api.schemas.rest import ServerSettingsIn, ServerSettingsOut
from homeport.services.server_settings import ServerSettings

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])


def _out(current: ServerSettings) -> ServerSettingsOut:
    return ServerSettingsOut(
        registration="closed" if current.registration == "closed" else "open",
        outbound_allow=list(current.outbound_allow),
    )


@router.get("")
async def get_settings(services: ServicesDep, admin: SettingsAdmin) -> ServerSettingsOut:
    return _out(await services.server_settings.get())


@router.put("")
async def update_settings(
    body: ServerSettingsIn, request: Request, services: ServicesDep, admin: SettingsAdmin
) -> ServerSettingsOut:
    """Change the settings given; those left out keep their value."""
    updated = await services.server_settings.update(
        admin,
        registration=body.registration,
        outbound_allow=body.outbound_allow,
        ip=client_of(request).ip,
    )
    services.outbound.policy = services.outbound.policy.with_extra(updated.outbound_allow)
    return _out(updated)
