"""Request dependencies: the services container and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from homeport.domain.users import Principal
from homeport.errors import AuthenticationFailed, PermissionDenied
from homeport.services.container import Services


async def get_services(request: Request) -> Services:
    # async: a plain function would cost every request a hop to the threadpool.
    services: Services = request.app.state.services
    return services


async def get_principal(request: Request) -> Principal:
    """Every route but health and sign-in requires `Authorization: Bearer <key>`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    services: Services = request.app.state.services
    return await services.users.authenticate(token.strip())


async def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    if not principal.is_admin:
        raise PermissionDenied("This needs the admin role.")
    return principal


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AdminDep = Annotated[Principal, Depends(require_admin)]
