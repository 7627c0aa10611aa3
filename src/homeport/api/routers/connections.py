"""Connections (/api/v1/connections): each user's own credentials for business systems, and
the OAuth2 providers admins configure (/api/v1/oauth/providers). See
`homeport.services.connections`.

Every route needs a key or a session but the OAuth2 callback, which the provider sends the
browser to: the single-use state in its URL is what authenticates it (and a browser signed in
as someone else than the user who started is refused).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import RedirectResponse

from homeport.api.deps import ConnectionsCaller, ServicesDep, SettingsAdmin, authenticate
from homeport.api.schemas.connections import (
    AuthorizeIn,
    AuthorizeOut,
    ConnectionOut,
    OAuthProviderIn,
    OAuthProviderOut,
    TokenIn,
)
from homeport.errors import AuthenticationFailed

router = APIRouter(prefix="/api/v1", tags=["connections"])

# -- OAuth2 providers (admins) -----------------------------------------------------------


@router.get("/oauth/providers")
async def list_providers(services: ServicesDep, admin: SettingsAdmin) -> list[OAuthProviderOut]:
    return [OAuthProviderOut.of(p) for p in await services.connections.list_providers()]


@router.get("/oauth/providers/{name}")
async def get_provider(name: str, services: ServicesDep, admin: SettingsAdmin) -> OAuthProviderOut:
    return OAuthProviderOut.of(await services.connections.get_provider(name))


@router.put("/oauth/providers/{name}", status_code=status.HTTP_201_CREATED)
async def put_provider(
    name: str,
    body: OAuthProviderIn,
    response: Response,
    services: ServicesDep,
    admin: SettingsAdmin,
) -> OAuthProviderOut:
    """Create or replace a provider (every field: a secret left out makes a public client)."""
    provider, created = await services.connections.put_provider(admin, name, body.spec())
    if not created:
        response.status_code = status.HTTP_200_OK
    return OAuthProviderOut.of(provider)


@router.delete("/oauth/providers/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_provider(name: str, services: ServicesDep, admin: SettingsAdmin) -> None:
    """Delete a provider and every user's connection to it."""
    await services.connections.delete_provider(admin, name)


# -- the OAuth2 flow -----------------------------------------------------------------------


@router.get(
    "/connections/oauth/callback",
    response_class=RedirectResponse,
    status_code=status.HTTP_303_SEE_OTHER,
)
async def callback(
    request: Request,
    services: ServicesDep,
    state: str | None = Query(default=None, max_length=200),
    code: str | None = Query(default=None, max_length=4096),
    error: str | None = Query(default=None, max_length=200),
) -> RedirectResponse:
    """Public (the state authenticates it): where the provider sends the browser back."""
    done = await services.connections.finish(
        state, code, error, caller_id=await _caller_id(request)
    )
    return RedirectResponse(done.redirect_to, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/connections/{provider}/authorize")
async def authorize(
    provider: str, body: AuthorizeIn, services: ServicesDep, principal: ConnectionsCaller
) -> AuthorizeOut:
    """The provider's authorization URL for a new connection (for the CLI and the UI)."""
    url = await services.connections.start(
        principal, provider, scopes=body.scopes, redirect_to=body.redirect_to
    )
    return AuthorizeOut(authorize_url=url)


@router.get(
    "/connections/{provider}/connect",
    response_class=RedirectResponse,
    status_code=status.HTTP_303_SEE_OTHER,
)
async def connect(
    provider: str,
    services: ServicesDep,
    principal: ConnectionsCaller,
    scope: Annotated[list[str] | None, Query(description="Beyond the provider's own")] = None,
    redirect: str | None = Query(default=None, max_length=2048),
) -> RedirectResponse:
    """For a signed-in browser: off to the provider to connect."""
    url = await services.connections.start(principal, provider, scopes=scope, redirect_to=redirect)
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


# -- the caller's connections ------------------------------------------------------------


@router.get("/connections")
async def list_connections(
    services: ServicesDep, principal: ConnectionsCaller
) -> list[ConnectionOut]:
    return [ConnectionOut.of(c) for c in await services.connections.list(principal)]


@router.put("/connections/{name}", status_code=status.HTTP_201_CREATED)
async def set_token(
    name: str,
    body: TokenIn,
    response: Response,
    services: ServicesDep,
    principal: ConnectionsCaller,
) -> ConnectionOut:
    """Store (or replace) a personal token under `name`."""
    connection, created = await services.connections.set_token(principal, name, body.token)
    if not created:
        response.status_code = status.HTTP_200_OK
    return ConnectionOut.of(connection)


@router.delete("/connections/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_connection(name: str, services: ServicesDep, principal: ConnectionsCaller) -> None:
    """Delete a connection (an OAuth2 one is revoked at the provider too)."""
    await services.connections.delete(principal, name)


async def _caller_id(request: Request) -> str | None:
    """The user this request is signed in as, if it is."""
    try:
        return (await authenticate(request)).user_id
    except AuthenticationFailed:
        return None
