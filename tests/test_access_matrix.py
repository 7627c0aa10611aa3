"""The authorization layer: every route declares the one permission it needs, and every role
gets exactly what auth/policy.py gives it.

The routes are read from the app at test time, so a route added without a rule fails here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from homeport.api.app import create_app
from homeport.api.deps import KeysCaller, Permit, ServicesDep
from homeport.auth.policy import (
    EVERYTHING,
    MEMBER,
    ORG_ADMIN,
    SCOPES,
    VIEWER,
    Permission,
    granted,
)
from homeport.services.container import Services
from tests.conftest import ADMIN_KEY, asgi_client, new_user_key

pytestmark = pytest.mark.anyio

# Routes anyone may call, without a key or a session. Each one is deliberate.
PUBLIC: set[tuple[str, str]] = {
    # The API's own description and docs.
    *{(m, p) for m in ("GET", "HEAD") for p in ("/openapi.json", "/docs", "/redoc")},
    *{(m, "/docs/oauth2-redirect") for m in ("GET", "HEAD")},
    # Probes and metrics.
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    # Signing in: what the sign-in page offers, registration, password sign-in and out.
    ("GET", "/api/v1/auth/options"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/logout"),
    # Single sign-on: off to the identity provider and back.
    ("GET", "/api/v1/auth/sso/login"),
    ("GET", "/api/v1/auth/sso/callback"),
    # Connecting an account at an OAuth2 provider: the single-use state authenticates the return.
    ("GET", "/api/v1/connections/oauth/callback"),
    # The CLI's device sign-in: asking for a code and polling for the key.
    ("POST", "/api/v1/auth/device"),
    ("POST", "/api/v1/auth/device/token"),
    # The web UI's files.
    ("GET", "/{path:path}"),
    ("HEAD", "/{path:path}"),
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as declared, with {parameters}
    permissions: frozenset[Permission]

    @property
    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", "x", self.path)


def permits(dependant: Dependant | None) -> set[Permission]:
    """The permissions a route's dependencies check, however deep they are nested."""
    found: set[Permission] = set()
    for dependency in dependant.dependencies if dependant else []:
        if isinstance(dependency.call, Permit):
            found.add(dependency.call.permission)
        found |= permits(dependency)
    return found


def endpoints(services: Services) -> tuple[list[Endpoint], list[str]]:
    """Every (method, route) of the app with its permissions, and the routes without a rule."""
    found, unruled = [], []
    for route in iter_route_contexts(create_app(services.settings, services=services).routes):
        path = route.path or ""
        needs = frozenset(permits(getattr(route, "dependant", None)))
        for method in sorted(route.methods or []):
            if needs:
                found.append(Endpoint(method, path, needs))
            elif (method, path) not in PUBLIC:
                unruled.append(f"{method} {path}")
    return found, unruled


async def test_every_route_is_public_on_purpose_or_names_its_permission(
    services: Services,
) -> None:
    found, unruled = endpoints(services)
    assert not unruled, (
        "these routes take no Permit dependency (api/deps.py); give them one, or add them to "
        f"PUBLIC with a reason: {unruled}"
    )
    declared = {(e.method, e.path): e.permissions for e in found}
    assert declared[("POST", "/v1/chat/completions")] == {Permission.INFERENCE}
    assert declared[("PUT", "/api/v1/orgs/{org}/members/{user}")] == {Permission.ORGS_MANAGE}
    assert declared[("POST", "/api/v1/orgs")] == {Permission.USERS_MANAGE}
    assert declared[("POST", "/api/v1/sharing/{resource_type}/{resource_id}")] == {
        Permission.SHARING
    }
    # No route is both public and guarded: PUBLIC lists exactly the unguarded ones.
    assert not {(e.method, e.path) for e in found} & PUBLIC


def test_a_route_without_a_rule_is_caught() -> None:
    """The walk above finds Permit however it is declared, and only Permit."""
    app = FastAPI()

    @app.get("/guarded")
    async def guarded(principal: KeysCaller) -> None: ...

    @app.get("/nested", dependencies=[Depends(Permit(Permission.AUDIT_READ))])
    async def nested() -> None: ...

    @app.get("/open")
    async def unguarded(services: ServicesDep) -> None: ...

    rules = {
        r.path: permits(getattr(r, "dependant", None))
        for r in iter_route_contexts(app.routes)
        if r.path in ("/guarded", "/nested", "/open")
    }
    assert rules == {
        "/guarded": {Permission.KEYS},
        "/nested": {Permission.AUDIT_READ},
        "/open": set(),
    }


# -- the role matrix ---------------------------------------------------------------------------


@dataclass
class Role:
    name: str
    key: str
    # What the policy says this role holds: the matrix's row.
    holds: frozenset[Permission]


async def make_roles(client: httpx.AsyncClient) -> list[Role]:
    """A platform admin, an org admin, a member, a viewer and a key scoped to inference."""
    org_admin = await new_user_key(client, "olga")
    member = await new_user_key(client, "max")
    viewer = await new_user_key(client, "vic")
    created = await client.post("/api/v1/orgs", json={"name": "acme"})
    assert created.status_code == 201, created.text
    for path, role in (
        ("/api/v1/orgs/acme/members/olga", "admin"),
        ("/api/v1/orgs/default/members/vic", "viewer"),
    ):
        response = await client.put(path, json={"role": role})
        assert response.status_code == 200, response.text
    scoped = await client.post(
        "/api/v1/keys", json={"name": "bot", "user": "max", "scopes": ["inference"]}
    )
    assert scoped.status_code == 201, scoped.text
    return [
        Role("platform admin", ADMIN_KEY, EVERYTHING),
        Role("org admin", org_admin, ORG_ADMIN),
        Role("member", member, MEMBER),
        Role("viewer", viewer, VIEWER),
        Role("inference key", scoped.json()["key"], MEMBER & SCOPES["inference"]),
    ]


@pytest.fixture
async def roles(client: httpx.AsyncClient) -> AsyncIterator[list[Role]]:
    yield await make_roles(client)


def test_the_policy_reads_as_the_issue_says() -> None:
    """The matrix in words: the sets the route matrix below is checked against."""
    assert Permission.INFERENCE in VIEWER and Permission.SESSIONS in VIEWER
    assert Permission.KEYS not in VIEWER and Permission.SHARING not in VIEWER
    assert {Permission.KEYS, Permission.SHARING, Permission.APPLY} <= MEMBER
    assert Permission.ORGS_MANAGE not in MEMBER and Permission.ORGS_MANAGE in ORG_ADMIN
    platform = {
        Permission.USERS_MANAGE,
        Permission.PROVIDERS_MANAGE,
        Permission.USAGE_ALL,
        Permission.AUDIT_READ,
        Permission.SETTINGS_MANAGE,
        Permission.RUNNERS_MANAGE,
    }
    assert not platform & ORG_ADMIN and platform <= EVERYTHING
    assert MEMBER & SCOPES["inference"] == {Permission.MODELS, Permission.INFERENCE}


async def test_each_role_gets_exactly_what_the_policy_gives_it(
    services: Services, roles: list[Role]
) -> None:
    found, _ = endpoints(services)
    assert len(found) > 40
    mismatches = []
    for role in roles:
        # The principal the server builds for the key holds the role's permission set.
        assert granted(await services.users.authenticate(role.key)) == role.holds, role.name
        async with asgi_client(services, role.key) as http:
            for endpoint in found:
                allowed = endpoint.permissions <= role.holds
                response = await _call(http, endpoint)
                got = response.status_code
                if got == 401 or (got == 403) == allowed:
                    mismatches.append(
                        f"{role.name}: {endpoint.method} {endpoint.path} -> {got} "
                        f"(policy: {'allowed' if allowed else 403}) {response.text[:120]}"
                    )
    assert not mismatches, "\n".join(mismatches)


async def _call(http: httpx.AsyncClient, endpoint: Endpoint) -> httpx.Response:
    """A representative request: dummy path parameters, an empty JSON body where one goes."""
    body: dict[str, Any] | None = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
    return await http.request(endpoint.method, endpoint.url, json=body)


# -- keys never exceed their owner ---------------------------------------------------------


async def test_a_viewers_key_cannot_create_keys_whatever_its_scopes(
    services: Services, client: httpx.AsyncClient
) -> None:
    viewer_key = await new_user_key(client, "vera")
    demoted = await client.put("/api/v1/orgs/default/members/vera", json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.text
    scoped = await client.post(
        "/api/v1/keys",
        json={"user": "vera", "scopes": ["inference", "sessions", "read"], "name": "wide"},
    )
    assert scoped.status_code == 201, scoped.text
    for key in (viewer_key, scoped.json()["key"]):
        async with asgi_client(services, key) as vera:
            refused = await vera.post("/api/v1/keys", json={"name": "more"})
            assert refused.status_code == 403, refused.text
            assert "'keys' permission" in refused.json()["error"]["message"]
            assert (await vera.get("/v1/models")).status_code == 200


async def test_demoting_the_owner_narrows_their_keys_at_once(
    services: Services, client: httpx.AsyncClient
) -> None:
    key = await new_user_key(client, "mia")
    async with asgi_client(services, key) as mia:
        assert (await mia.post("/api/v1/keys", json={"name": "one"})).status_code == 201
        demoted = await client.put("/api/v1/orgs/default/members/mia", json={"role": "viewer"})
        assert demoted.status_code == 200, demoted.text
        assert (await mia.post("/api/v1/keys", json={"name": "two"})).status_code == 403
        promoted = await client.put("/api/v1/orgs/default/members/mia", json={"role": "member"})
        assert promoted.status_code == 200, promoted.text
        assert (await mia.post("/api/v1/keys", json={"name": "three"})).status_code == 201


async def test_a_key_scoped_to_inference_cannot_manage_even_for_an_org_owner(
    services: Services, client: httpx.AsyncClient
) -> None:
    await new_user_key(client, "otto")
    created = await client.post("/api/v1/orgs", json={"name": "initech", "owner": "otto"})
    assert created.status_code == 201, created.text
    scoped = await client.post(
        "/api/v1/keys", json={"user": "otto", "scopes": ["inference"], "name": "bot"}
    )
    async with asgi_client(services, scoped.json()["key"]) as bot:
        response = await bot.put("/api/v1/orgs/initech/members/otto", json={"role": "viewer"})
        assert response.status_code == 403
        assert "scopes of this API key" in response.json()["error"]["message"]
        assert (await bot.get("/api/v1/orgs")).status_code == 403
        assert (await bot.get("/v1/models")).status_code == 200
