"""Provider connections, for admins (/api/v1/providers)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from homeport.api.deps import ProvidersAdmin, ServicesDep
from homeport.api.schemas.rest import ProviderIn, ProviderOut
from homeport.services.providers import ProviderInput

router = APIRouter(prefix="/api/v1/providers", tags=["providers"])


@router.get("")
async def list_providers(services: ServicesDep, admin: ProvidersAdmin) -> list[ProviderOut]:
    return [ProviderOut.of(p) for p in await services.providers.list()]


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_provider(
    body: ProviderIn, response: Response, services: ServicesDep, admin: ProvidersAdmin
) -> ProviderOut:
    data = ProviderInput(
        kind=body.kind,
        base_url=body.base_url,
        api_key=body.api_key,
        models_allowed=body.models,
        options=body.options,
    )
    provider, created = await services.providers.upsert(body.name, data)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ProviderOut.of(provider)


@router.get("/{name}")
async def get_provider(name: str, services: ServicesDep, admin: ProvidersAdmin) -> ProviderOut:
    return ProviderOut.of(await services.providers.get(name))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_provider(name: str, services: ServicesDep, admin: ProvidersAdmin) -> None:
    await services.providers.remove(name)


@router.post("/{name}/refresh")
async def refresh_provider(name: str, services: ServicesDep, admin: ProvidersAdmin) -> ProviderOut:
    await services.providers.refresh(name)
    return ProviderOut.of(await services.providers.get(name))
