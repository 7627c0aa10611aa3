"""Request dependencies: the services, and the caller with the one permission a route needs.

Every route but health, metrics, the UI's files and the sign-in routes declares
`Depends(Permit(permission))` (through the aliases below); the route test in
tests/test_access_matrix.py fails for a route that does not.

A caller authenticates with `Authorization: Bearer <API key>` or with the session cookie a
browser got at sign-in; unsafe requests made with the cookie must carry its CSRF token.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from homeport.auth.policy import Permission, require
from homeport.domain.users import Principal
from homeport.errors import AuthenticationFailed, PermissionDenied
from homeport.services.container import Services

SESSION_COOKIE = "homeport_session"
CSRF_COOKIE = "homeport_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_services(request: Request) -> Services:
    # async: a plain function would cost every request a hop to the threadpool.
    services: Services = request.app.state.services
    return services


async def authenticate(request: Request) -> Principal:
    services: Services = request.app.state.services
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed(
                "Send the API key as 'Authorization: Bearer <key>'.", code="missing_api_key"
            )
        return await services.users.authenticate(token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal, csrf = await services.accounts.authenticate_session(cookie)
        if request.method not in SAFE_METHODS:
            _check_csrf(request, csrf)
        return principal
    raise AuthenticationFailed(
        "You didn't provide an API key. Send it as 'Authorization: Bearer <key>', or sign in.",
        code="missing_api_key",
    )


def _check_csrf(request: Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise PermissionDenied(
            "This request needs the CSRF token of your session in the X-CSRF-Token header.",
            code="csrf_failed",
        )


class Permit:
    """The authenticated caller, who must hold `permission` (narrowed by the key's scopes)."""

    def __init__(self, permission: Permission):
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        require(principal, self.permission)
        return principal

    def __repr__(self) -> str:
        return f"Permit({self.permission.value!r})"


def _caller(permission: Permission) -> object:
    return Depends(Permit(permission))


ServicesDep = Annotated[Services, Depends(get_services)]

ModelsCaller = Annotated[Principal, _caller(Permission.MODELS)]
InferenceCaller = Annotated[Principal, _caller(Permission.INFERENCE)]
SessionsCaller = Annotated[Principal, _caller(Permission.SESSIONS)]
ProfileCaller = Annotated[Principal, _caller(Permission.PROFILE)]
KeysCaller = Annotated[Principal, _caller(Permission.KEYS)]
OrgsReader = Annotated[Principal, _caller(Permission.ORGS_READ)]
OrgsManager = Annotated[Principal, _caller(Permission.ORGS_MANAGE)]
SharingCaller = Annotated[Principal, _caller(Permission.SHARING)]
ApplyCaller = Annotated[Principal, _caller(Permission.APPLY)]
UsageCaller = Annotated[Principal, _caller(Permission.USAGE_OWN)]
UsersAdmin = Annotated[Principal, _caller(Permission.USERS_MANAGE)]
ProvidersAdmin = Annotated[Principal, _caller(Permission.PROVIDERS_MANAGE)]
UsageAdmin = Annotated[Principal, _caller(Permission.USAGE_ALL)]
AuditReader = Annotated[Principal, _caller(Permission.AUDIT_READ)]
SettingsAdmin = Annotated[Principal, _caller(Permission.SETTINGS_MANAGE)]
RunnersAdmin = Annotated[Principal, _caller(Permission.RUNNERS_MANAGE)]
KnowledgeReader = Annotated[Principal, _caller(Permission.KNOWLEDGE)]
KnowledgeManager = Annotated[Principal, _caller(Permission.KNOWLEDGE_MANAGE)]
SecretsCaller = Annotated[Principal, _caller(Permission.SECRETS)]
ConnectionsCaller = Annotated[Principal, _caller(Permission.CONNECTIONS)]
