"""Secrets (/api/v1/secrets): each user's own, by name. Values are never returned."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from homeport.api.deps import SecretsCaller, ServicesDep, SettingsAdmin
from homeport.api.schemas.secrets import ReencryptedOut, SecretIn, SecretOut

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"])


@router.get("")
async def list_secrets(services: ServicesDep, principal: SecretsCaller) -> list[SecretOut]:
    return [SecretOut.of(s) for s in await services.secrets.list(principal)]


@router.put("/{name}", status_code=status.HTTP_201_CREATED)
async def set_secret(
    name: str, body: SecretIn, response: Response, services: ServicesDep, principal: SecretsCaller
) -> SecretOut:
    secret, created = await services.secrets.set(principal, name, body.value)
    if not created:
        response.status_code = status.HTTP_200_OK
    return SecretOut.of(secret)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_secret(name: str, services: ServicesDep, principal: SecretsCaller) -> None:
    await services.secrets.delete(principal, name)


@router.post("/reencrypt")
async def reencrypt_secrets(services: ServicesDep, admin: SettingsAdmin) -> ReencryptedOut:
    """Encrypt every user's secrets under the current HOMEPORT_SECRET_KEY (after a rotation)."""
    return ReencryptedOut(**await services.secrets.reencrypt(admin))
