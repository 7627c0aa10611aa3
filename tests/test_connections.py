"""Connections: each user's own credentials for business systems, through the API and the CLI.

OAuth2 runs against a real authorization server on a local socket
(`homeport.testing.FakeAuthorizationServer`). The test plays the browser: it follows
Homeport's authorization URL to the server (which signs in the login it is given and approves
at once), and brings the code back to Homeport's callback.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select, text, update

from homeport.auth.secretbox import SecretBox
from homeport.db.tables import OAuthPendingRow, UserConnectionRow
from homeport.services.connections import CALLBACK_PATH
from homeport.services.container import Services
from homeport.settings import Settings
from homeport.testing import FakeAuthorizationServer
from tests.conftest import (
    ADMIN_KEY,
    LiveServer,
    asgi_client,
    live_server,
    make_settings,
    new_user_key,
)
from tests.conftest import run_homeport as homeport

pytestmark = pytest.mark.anyio

PUBLIC_URL = "http://homeport"
PROVIDER = "brekka-sso"
CLIENT_SECRET = "client-secret-9d1f-never-shown"
HR_TOKEN = "hr-token-77ac-never-shown"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url, public_url=PUBLIC_URL)


@pytest.fixture
def idp() -> Iterator[FakeAuthorizationServer]:
    server = FakeAuthorizationServer(
        client_id="homeport",
        client_secret=CLIENT_SECRET,
        redirect_uris=[PUBLIC_URL + CALLBACK_PATH],
    )
    with server.serve():
        yield server


def provider_body(idp: FakeAuthorizationServer, **overrides: Any) -> dict[str, Any]:
    return {
        "authorize_url": idp.authorize_url,
        "token_url": idp.token_url,
        "revoke_url": idp.revoke_url,
        "client_id": "homeport",
        "client_secret": CLIENT_SECRET,
        "scopes": ["openid", "candidates.read"],
        **overrides,
    }


@pytest.fixture
async def provider(client: httpx.AsyncClient, idp: FakeAuthorizationServer) -> dict[str, Any]:
    created = await client.put(f"/api/v1/oauth/providers/{PROVIDER}", json=provider_body(idp))
    assert created.status_code == 201, created.text
    return dict(created.json())


async def user(services: Services, admin: httpx.AsyncClient, name: str) -> httpx.AsyncClient:
    return asgi_client(services, await new_user_key(admin, name))


@pytest.fixture
async def alice(services: Services, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with await user(services, client, "alice") as http:
        yield http


@pytest.fixture
async def bob(services: Services, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with await user(services, client, "bob") as http:
        yield http


async def user_id(http: httpx.AsyncClient) -> str:
    return str((await http.get("/api/v1/me")).json()["id"])


async def start(http: httpx.AsyncClient, name: str = PROVIDER, **body: Any) -> str:
    started = await http.post(f"/api/v1/connections/{name}/authorize", json=body)
    assert started.status_code == 200, started.text
    return str(started.json()["authorize_url"])


async def at_provider(authorize_url: str, login: str) -> str:
    """The person signs in at the provider, which approves and sends the browser back."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(f"{authorize_url}&login_hint={login}")
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def connect(http: httpx.AsyncClient, login: str) -> httpx.Response:
    return await http.get(await at_provider(await start(http), login))


async def audit(client: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params={"action": action})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def audit_text(services: Services) -> str:
    async with services.db.transaction() as session:
        rows = await session.execute(text("SELECT action, details FROM audit_log"))
        return "\n".join(str(row) for row in rows)


async def connection_rows(services: Services) -> int:
    async with services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(UserConnectionRow)) or 0)


# -- connecting ----------------------------------------------------------------------------


async def test_a_user_connects_and_their_token_is_theirs_alone(
    services: Services,
    client: httpx.AsyncClient,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
) -> None:
    authorize = await start(alice)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(idp.authorize_url + "?")
    assert query["client_id"] == ["homeport"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [PUBLIC_URL + CALLBACK_PATH]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43  # 256 bits
    assert query["scope"] == ["openid candidates.read"]

    back = await at_provider(authorize, "alice")
    assert back.startswith(PUBLIC_URL + CALLBACK_PATH + "?")
    async with asgi_client(services, key=None) as browser:  # no key: the state is enough
        done = await browser.get(back)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"/connections?connected={PROVIDER}"

    listed = (await alice.get("/api/v1/connections")).json()
    assert [(c["name"], c["kind"]) for c in listed] == [(PROVIDER, "oauth2")]
    assert set(listed[0]) == {"name", "kind", "scopes", "expires_at", "connected_at"}
    assert listed[0]["scopes"] == ["openid", "candidates.read"]

    alices = await services.connections.token_for(await user_id(alice), PROVIDER)
    assert alices is not None and idp.login_of(alices) == "alice"
    bob_id = await user_id(bob)
    assert await services.connections.token_for(bob_id, PROVIDER) is None
    assert (await bob.get("/api/v1/connections")).json() == []

    assert (await connect(bob, "bob")).status_code == 303
    bobs = await services.connections.token_for(bob_id, PROVIDER)
    assert bobs is not None and idp.login_of(bobs) == "bob" and bobs != alices
    assert await services.connections.token_for(await user_id(alice), PROVIDER) == alices
    async with httpx.AsyncClient(auth=("homeport", CLIENT_SECRET)) as http:
        introspected = (await http.post(idp.introspect_url, data={"token": bobs})).json()
    assert introspected["active"] and introspected["sub"] == "bob"

    connected = await audit(client, "connection.connected")
    assert [(e["outcome"], e["actor_user_id"]) for e in connected] == [
        ("success", bob_id),
        ("success", await user_id(alice)),
    ]


async def test_tokens_and_the_client_secret_never_leave_the_server(
    services: Services,
    client: httpx.AsyncClient,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert provider["confidential"] is True and "client_secret" not in provider
    responses = [
        await client.get("/api/v1/oauth/providers"),
        await client.get(f"/api/v1/oauth/providers/{PROVIDER}"),
        await connect(alice, "alice"),
        await alice.put("/api/v1/connections/brekka-hr", json={"token": HR_TOKEN}),
        await alice.get("/api/v1/connections"),
        await alice.delete(f"/api/v1/connections/{PROVIDER}"),
        await client.get("/api/v1/audit"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 303, 201, 200, 204, 200]
    assert len(idp.issued()) == 2
    seen = "\n".join(r.text + str(r.headers) for r in responses) + await audit_text(services)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for value in [*idp.issued(), CLIENT_SECRET, HR_TOKEN]:
        assert value not in seen
        assert value not in logged


async def test_connecting_again_replaces_the_connection(
    services: Services, provider: dict[str, Any], alice: httpx.AsyncClient
) -> None:
    assert (await connect(alice, "alice")).status_code == 303
    first = await services.connections.token_for(await user_id(alice), PROVIDER)
    again = await alice.get(await at_provider(await start(alice, scopes=["payroll.read"]), "alice"))
    assert again.status_code == 303
    listed = (await alice.get("/api/v1/connections")).json()
    assert [c["scopes"] for c in listed] == [["openid", "candidates.read", "payroll.read"]]
    assert await services.connections.token_for(await user_id(alice), PROVIDER) != first


# -- refreshing ------------------------------------------------------------------------------


async def test_an_expiring_token_is_refreshed_once_for_concurrent_callers(
    services: Services,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    idp.access_token_seconds = 30  # within a minute of expiry: refreshed before use
    assert (await connect(alice, "alice")).status_code == 303
    owner = await user_id(alice)
    old = idp.issued()[0]
    idp.access_token_seconds, idp.refresh_delay = 3600, 0.2

    tokens = await asyncio.gather(
        *(services.connections.token_for(owner, PROVIDER) for _ in range(10))
    )
    assert idp.refreshes == 1
    assert len(set(tokens)) == 1 and tokens[0] != old
    assert tokens[0] is not None and idp.login_of(tokens[0]) == "alice"
    assert await services.connections.token_for(owner, PROVIDER) == tokens[0]
    assert idp.refreshes == 1
    listed = (await alice.get("/api/v1/connections")).json()
    expires = datetime.fromisoformat(listed[0]["expires_at"])
    assert expires > datetime.now(UTC) + timedelta(minutes=50)


async def test_a_connection_the_provider_no_longer_honours_is_dropped(
    services: Services,
    client: httpx.AsyncClient,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    idp.access_token_seconds = 30
    assert (await connect(alice, "alice")).status_code == 303
    idp.revoke_all("alice")  # alice withdraws access at the provider
    assert await services.connections.token_for(await user_id(alice), PROVIDER) is None
    assert (await alice.get("/api/v1/connections")).json() == []
    [dropped] = await audit(client, "connection.expired")
    assert dropped["details"] == {"name": PROVIDER, "reason": "refresh_refused:invalid_grant"}


# -- deleting --------------------------------------------------------------------------------


async def test_deleting_a_connection_revokes_it_at_the_provider(
    services: Services,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    assert (await connect(alice, "alice")).status_code == 303
    token = await services.connections.token_for(await user_id(alice), PROVIDER)
    assert token is not None and idp.login_of(token) == "alice"
    assert (await alice.delete(f"/api/v1/connections/{PROVIDER}")).status_code == 204
    assert idp.revocations == 2  # the refresh token, then the access token
    assert idp.login_of(token) is None
    assert await services.connections.token_for(await user_id(alice), PROVIDER) is None
    assert (await alice.delete(f"/api/v1/connections/{PROVIDER}")).status_code == 404


async def test_a_failed_revocation_is_logged_and_the_connection_deleted_anyway(
    client: httpx.AsyncClient,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert (await connect(alice, "alice")).status_code == 303
    idp.fail_revocations = True
    assert (await alice.delete(f"/api/v1/connections/{PROVIDER}")).status_code == 204
    assert (await alice.get("/api/v1/connections")).json() == []
    assert any("revoking a connection" in r.getMessage() for r in caplog.records)
    [failed] = await audit(client, "connection.revoke_failed")
    assert failed["outcome"] == "failure" and "503" in failed["details"]["reason"]


# -- the state and PKCE ------------------------------------------------------------------------


async def test_a_state_works_once_for_the_user_who_started_and_expires(
    services: Services,
    client: httpx.AsyncClient,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
) -> None:
    back = await at_provider(await start(alice), "alice")
    assert (await alice.get(back)).status_code == 303
    reused = await alice.get(back)
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "connection_invalid_state"
    callback = PUBLIC_URL + CALLBACK_PATH
    for params in ({"state": "not-a-state", "code": "x"}, {"code": "x"}, {}):
        refused = await alice.get(callback, params=params)
        assert refused.status_code == 401, refused.text

    stolen = await at_provider(await start(alice), "alice")
    refused = await bob.get(stolen)  # bob is signed in: not the user who started
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "connection_not_yours"
    assert (await alice.get(stolen)).status_code == 401  # used up

    late = await at_provider(await start(alice), "alice")
    async with services.db.transaction() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(OAuthPendingRow).values(expires_at=past))
    assert (await alice.get(late)).status_code == 401
    assert (await bob.get("/api/v1/connections")).json() == []
    failures = await audit(client, "connection.connected")
    assert [e["details"].get("reason") for e in failures if e["outcome"] == "failure"] == [
        "connection_not_yours"
    ]


async def test_a_provider_that_refuses_access_is_reported(
    client: httpx.AsyncClient,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    idp.deny = True
    back = await at_provider(await start(alice), "alice")
    assert "error=access_denied" in back
    refused = await alice.get(back)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "connection_denied"
    assert (await alice.get("/api/v1/connections")).json() == []
    [failed] = await audit(client, "connection.connected")
    assert failed["outcome"] == "failure" and failed["details"]["reason"] == "connection_denied"


async def test_the_pkce_verifier_is_checked(
    services: Services,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    # The server refuses a code with the wrong verifier...
    code = parse_qs(urlsplit(await at_provider(await start(alice), "alice")).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": PUBLIC_URL + CALLBACK_PATH,
        "code_verifier": "w" * 64,
    }
    async with httpx.AsyncClient(auth=("homeport", CLIENT_SECRET)) as http:
        wrong = await http.post(idp.token_url, data=form)
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_grant"}

    # ... so a connection whose stored verifier is not the one challenged fails.
    back = await at_provider(await start(alice), "alice")
    box = SecretBox(services.settings.secret_keys())
    async with services.db.transaction() as session:
        forged = box.encrypt("f" * 64)
        await session.execute(update(OAuthPendingRow).values(code_verifier_encrypted=forged))
    refused = await alice.get(back)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "oauth_grant_refused"
    assert (await alice.get("/api/v1/connections")).json() == []


# -- personal tokens ---------------------------------------------------------------------------


async def test_personal_tokens_are_set_listed_used_and_deleted_by_their_owner(
    services: Services,
    client: httpx.AsyncClient,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
) -> None:
    path = "/api/v1/connections/brekka-hr"
    created = await alice.put(path, json={"token": "first token"})
    replaced = await alice.put(path, json={"token": HR_TOKEN + "\n"})
    assert (created.status_code, replaced.status_code) == (201, 200)
    assert replaced.json()["kind"] == "token" and replaced.json()["expires_at"] is None
    owner, bob_id = await user_id(alice), await user_id(bob)
    assert await services.connections.token_for(owner, "brekka-hr") == HR_TOKEN
    assert await services.connections.token_for(bob_id, "brekka-hr") is None
    assert (await bob.get("/api/v1/connections")).json() == []
    assert (await bob.delete(path)).status_code == 404
    assert await services.connections.connect_url("brekka-hr") is None

    for name, body in (
        ("brekka hr", {"token": "x"}),
        ("-hr", {"token": "x"}),
        ("hr", {"token": "line\nbreak"}),
        ("hr", {"token": "   "}),
        ("hr", {"token": "ünïcode"}),
        ("hr", {"value": "x"}),
    ):
        refused = await alice.put(f"/api/v1/connections/{name}", json=body)
        assert refused.status_code == 422, (name, body, refused.text)
    clash = await alice.put(f"/api/v1/connections/{PROVIDER}", json={"token": "x"})
    assert clash.status_code == 409 and "connection connect" in clash.json()["error"]["message"]

    assert (await alice.delete(path)).status_code == 204
    assert await services.connections.token_for(owner, "brekka-hr") is None
    actions = [e["action"] for e in await audit(client, "connection.*")]
    assert actions == ["connection.deleted", "connection.token_set", "connection.token_set"]


# -- providers ---------------------------------------------------------------------------------


async def test_only_admins_manage_providers_and_bad_settings_are_refused(
    client: httpx.AsyncClient, idp: FakeAuthorizationServer, alice: httpx.AsyncClient
) -> None:
    path = f"/api/v1/oauth/providers/{PROVIDER}"
    for response in (
        await alice.get("/api/v1/oauth/providers"),
        await alice.put(path, json=provider_body(idp)),
        await alice.get(path),
        await alice.delete(path),
    ):
        assert response.status_code == 403, response.text
    for field, bad in (
        ("authorize_url", "ftp://idp.example.com/authorize"),
        ("token_url", "/token"),
        ("token_url", "javascript:alert(1)"),
        ("revoke_url", "https://user:pw@idp.example.com/revoke"),
        ("authorize_url", "https://idp.example.com/a#fragment"),
        ("client_id", ""),
        ("scopes", ["two words"]),
        ("scopes", "not a list"),
    ):
        refused = await client.put(path, json=provider_body(idp, **{field: bad}))
        assert refused.status_code == 422, (field, bad, refused.text)
    assert (
        await client.put("/api/v1/oauth/providers/a%20b", json=provider_body(idp))
    ).status_code == 422
    assert (await client.get(path)).status_code == 404
    assert (await client.get("/api/v1/oauth/providers")).json() == []

    assert (await client.put(path, json=provider_body(idp))).status_code == 201
    public = await client.put(path, json=provider_body(idp, client_secret=None, scopes=[]))
    assert public.status_code == 200
    assert public.json()["confidential"] is False and public.json()["scopes"] == []
    unknown = await alice.post("/api/v1/connections/nobody/authorize", json={})
    assert unknown.status_code == 404


async def test_deleting_a_provider_deletes_and_revokes_its_connections(
    services: Services,
    client: httpx.AsyncClient,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    assert (await connect(alice, "alice")).status_code == 303
    assert (
        await alice.put("/api/v1/connections/brekka-hr", json={"token": "t"})
    ).status_code == 201
    assert (await client.delete(f"/api/v1/oauth/providers/{PROVIDER}")).status_code == 204
    assert idp.revocations == 2
    assert [c["name"] for c in (await alice.get("/api/v1/connections")).json()] == ["brekka-hr"]
    [deleted] = await audit(client, "oauth_provider.deleted")
    assert deleted["details"] == {"name": PROVIDER, "connections": 1}


async def test_the_connect_url_sends_a_signed_in_browser_to_the_provider(
    services: Services,
    idp: FakeAuthorizationServer,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
) -> None:
    url = await services.connections.connect_url(PROVIDER)
    assert url == f"{PUBLIC_URL}/api/v1/connections/{PROVIDER}/connect"
    off = await alice.get(url, params={"redirect": "/chat/1", "scope": "payroll.read"})
    assert off.status_code == 303
    assert off.headers["location"].startswith(idp.authorize_url + "?")
    assert "payroll.read" in parse_qs(urlsplit(off.headers["location"]).query)["scope"][0]
    done = await alice.get(await at_provider(off.headers["location"], "alice"))
    assert done.status_code == 303 and done.headers["location"] == "/chat/1"
    for redirect in ("//evil.example.com", "https://evil.example.com/", "chat"):
        refused = await alice.get(url, params={"redirect": redirect})
        assert refused.status_code == 422, redirect


# -- users who go ------------------------------------------------------------------------------


async def test_a_deleted_users_connections_go_with_them_never_to_an_heir(
    services: Services,
    client: httpx.AsyncClient,
    provider: dict[str, Any],
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
) -> None:
    assert (await connect(alice, "alice")).status_code == 303
    assert (
        await alice.put("/api/v1/connections/brekka-hr", json={"token": "t"})
    ).status_code == 201
    owner = await user_id(alice)
    deleted = await client.delete("/api/v1/users/alice", params={"transfer_to": "bob"})
    assert deleted.status_code == 200, deleted.text
    assert (await bob.get("/api/v1/connections")).json() == []
    assert await services.connections.token_for(owner, PROVIDER) is None
    assert await connection_rows(services) == 0


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("cli-connections-server"))
    yield live
    live.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_cli_configures_a_provider_connects_and_keeps_tokens_out_of_sight(
    server: LiveServer, tmp_path: Path
) -> None:
    idp = FakeAuthorizationServer(client_id="homeport", client_secret=CLIENT_SECRET)
    with idp.serve(), httpx.Client(base_url=server.url) as http:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert http.post("/api/v1/users", json={"name": "cleo"}, headers=admin).is_success
        key = http.post("/api/v1/keys", json={"name": "t", "user": "cleo"}, headers=admin)
        cleo = key.json()["key"]

        def run(*args: str, stdin: str = "", as_key: str = ADMIN_KEY) -> str:
            result = homeport(server, tmp_path, *args, key=as_key, stdin=stdin)
            runs.append(result)
            return ok(result)

        runs: list[subprocess.CompletedProcess[str]] = []
        set_args = [
            "oauth-provider", "set", PROVIDER,
            "--authorize-url", idp.authorize_url, "--token-url", idp.token_url,
            "--revoke-url", idp.revoke_url, "--client-id", "homeport",
            "--client-secret", "--scope", "openid",
        ]  # fmt: skip
        assert run(*set_args, stdin=CLIENT_SECRET + "\n") == f"oauth-provider {PROVIDER} created\n"
        assert "confidential" in run("oauth-provider", "list")
        refused = homeport(server, tmp_path, "oauth-provider", "list", key=cleo)
        assert refused.returncode == 3

        printed = run("connection", "connect", PROVIDER, as_key=cleo)
        url = printed.splitlines()[-1]
        assert url.startswith(idp.authorize_url + "?")
        back = httpx.get(f"{url}&login_hint=cleo").headers["location"]
        assert http.get(back).status_code == 303  # the browser: no key, the state is enough

        run("connection", "set-token", "brekka-hr", "--from-stdin", stdin=HR_TOKEN, as_key=cleo)
        listing = run("connection", "list", as_key=cleo)
        assert [line.split()[:2] for line in listing.splitlines()[1:]] == [
            ["brekka-hr", "token"],
            [PROVIDER, "oauth2"],
        ]
        assert '"kind": "oauth2"' in run("connection", "list", "--json", as_key=cleo)
        run("connection", "delete", PROVIDER, as_key=cleo)
        assert idp.revocations == 2
        missing = homeport(server, tmp_path, "connection", "delete", PROVIDER, key=cleo)
        assert missing.returncode == 4
        run("oauth-provider", "delete", PROVIDER)
        for result in runs:
            for value in [*idp.issued(), CLIENT_SECRET, HR_TOKEN]:
                assert value not in result.stdout + result.stderr


async def test_a_viewer_may_connect_an_account_but_keeps_no_secrets(
    services: Services, client: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    demoted = await client.put("/api/v1/orgs/default/members/bob", json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.text
    services.users.forget(await user_id(bob))

    token = await bob.put("/api/v1/connections/brekka-hr", json={"token": "bob's token"})
    listed = await bob.get("/api/v1/connections")
    secret = await bob.put("/api/v1/secrets/HR_TOKEN", json={"value": "x"})

    assert token.status_code == 201, token.text
    assert [c["name"] for c in listed.json()] == ["brekka-hr"]
    assert secret.status_code == 403
