"""Authentication and accounts: every route needs a key, users and keys, the first admin, and
secrets that never leave the server."""

from __future__ import annotations

import asyncio
import re
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from homeport.api.app import create_app
from homeport.services.container import Services, build_services
from homeport.settings import ADMIN_KEY_FILE, Settings
from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, asgi_client, make_settings, new_user_key

# Routes that need no key: health, metrics, the API docs, and the web UI's public assets.
# WebSockets that take a runner token instead of a key (tests/test_runners.py checks them).
RUNNER_SOCKETS = {"/api/v1/runners/connect"}
PUBLIC_PATHS = {
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/{path:path}",
    # Signing in (tests/test_accounts.py tests them).
    "/api/v1/auth/options",
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/logout",
    # Single sign-on and the CLI's device sign-in (tests/test_sso.py, tests/test_device.py).
    "/api/v1/auth/sso/login",
    "/api/v1/auth/sso/callback",
    "/api/v1/auth/device",
    "/api/v1/auth/device/token",
    # Back from an OAuth2 provider: the single-use state authenticates it (test_connections.py).
    "/api/v1/connections/oauth/callback",
}
API_PREFIXES = ("/v1/", "/api/v1/")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


def assert_error(response: httpx.Response, status: int, kind: str, **fields: Any) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == kind
    assert error["message"]
    for name, value in fields.items():
        assert error[name] == value, error


# For tests whose outcome does not depend on the database: SQLite only, to keep the suite fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def as_user(client: httpx.AsyncClient, services: Services, name: str) -> httpx.AsyncClient:
    return asgi_client(services, await new_user_key(client, name))


# -- every route needs a key ----------------------------------------------------------------


def protected_endpoints(services: Services) -> list[tuple[str, str]]:
    """(method, path) of every route but the public ones, with path parameters filled in."""
    endpoints = []
    for route in iter_route_contexts(create_app(services.settings, services=services).routes):
        path = route.path or ""
        if path in PUBLIC_PATHS or path in RUNNER_SOCKETS:
            continue
        assert path.startswith(API_PREFIXES), f"{path}: a new public route? add it above"
        assert route.methods, f"{path}: teach this test about {route.original_route!r}"
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        endpoints += [(method, concrete) for method in sorted(route.methods)]
    return endpoints


@sqlite_only
@pytest.mark.anyio
async def test_every_route_but_health_and_docs_needs_a_valid_key(services: Services) -> None:
    endpoints = protected_endpoints(services)
    assert {
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("GET", "/api/v1/me"),
        ("DELETE", "/api/v1/keys/x"),
        ("POST", "/api/v1/sessions/x/messages"),
        ("POST", "/api/v1/apply"),
    } <= set(endpoints)

    credentials: list[tuple[dict[str, str], str]] = [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer "}, "missing_api_key"),
        ({"Authorization": f"Basic {ADMIN_KEY}"}, "missing_api_key"),
        ({"Authorization": "Bearer hp-wrong-key"}, "invalid_api_key"),
        ({"Authorization": f"Bearer {ADMIN_KEY}x"}, "invalid_api_key"),
    ]
    async with asgi_client(services, key=None) as anonymous:
        for method, path in endpoints:
            for headers, code in credentials:
                response = await anonymous.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert_error(response, 401, "authentication_error", code=code)
                assert response.headers["www-authenticate"] == "Bearer"
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert (await anonymous.get(path)).status_code == 200, path


@sqlite_only
@pytest.mark.anyio
async def test_a_valid_key_gets_through(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/models")).status_code == 200
    lowercase = await client.get("/api/v1/me", headers={"Authorization": f"bearer {ADMIN_KEY}"})
    assert lowercase.status_code == 200


# -- users ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_admins_create_and_list_users(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/users", json={"name": "alice", "email": "alice@example.com"}
    )
    assert created.status_code == 201, created.text
    alice = created.json()
    assert alice["id"].startswith("user_")
    assert (alice["name"], alice["email"], alice["roles"], alice["disabled"]) == (
        "alice",
        "alice@example.com",
        ["user"],
        False,
    )
    helper = await client.post("/api/v1/users", json={"name": "ops.bot", "roles": ["admin"]})
    assert helper.status_code == 201, helper.text
    assert helper.json()["roles"] == ["admin"]

    listed = await client.get("/api/v1/users")
    assert listed.status_code == 200
    assert sorted(u["name"] for u in listed.json()) == ["admin", "alice", "ops.bot"]
    assert next(u for u in listed.json() if u["name"] == "alice") == alice

    by_name = await client.get("/api/v1/users/alice")
    by_id = await client.get(f"/api/v1/users/{alice['id']}")
    assert by_name.json() == by_id.json() == alice
    assert_error(await client.get("/api/v1/users/nobody"), 404, "not_found_error")


@pytest.mark.anyio
async def test_user_names_are_unique(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/users", json={"name": "alice"})).status_code == 201
    duplicate = await client.post("/api/v1/users", json={"name": "alice", "email": "a@b.c"})
    assert_error(duplicate, 409, "conflict_error", param="name")
    assert "alice" in duplicate.json()["error"]["message"]
    assert [u["name"] for u in (await client.get("/api/v1/users")).json()].count("alice") == 1
    again = await client.post("/api/v1/users", json={"name": "bob"})
    assert again.status_code == 201, "a refused duplicate must not break later requests"


@sqlite_only
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": ""}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "-dash-first"}, "name"),
        ({"name": "a/b"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({}, "name"),
        ({"name": "carol", "roles": ["root"]}, "roles.0"),
        ({"name": "carol", "password": "hunter2"}, "password"),
    ],
)
async def test_bad_user_bodies_are_refused(
    client: httpx.AsyncClient, body: dict[str, Any], param: str
) -> None:
    response = await client.post("/api/v1/users", json=body)
    assert_error(response, 422, "invalid_request_error", param=param)
    assert [u["name"] for u in (await client.get("/api/v1/users")).json()] == ["admin"]


@sqlite_only
@pytest.mark.anyio
async def test_only_admins_manage_users(client: httpx.AsyncClient, services: Services) -> None:
    async with await as_user(client, services, "alice") as alice:
        for response in [
            await alice.post("/api/v1/users", json={"name": "mallory"}),
            await alice.post("/api/v1/users", json={"name": "mallory", "roles": ["admin"]}),
            await alice.get("/api/v1/users"),
            await alice.get("/api/v1/users/admin"),
        ]:
            assert_error(response, 403, "permission_error")
        names = [u["name"] for u in (await client.get("/api/v1/users")).json()]
        assert sorted(names) == ["admin", "alice"]


@sqlite_only
@pytest.mark.anyio
async def test_me_says_who_the_key_belongs_to(
    client: httpx.AsyncClient, services: Services
) -> None:
    admin = await client.get("/api/v1/me")
    assert admin.status_code == 200
    assert (admin.json()["name"], admin.json()["roles"]) == ("admin", ["admin"])
    async with await as_user(client, services, "alice") as alice:
        me = (await alice.get("/api/v1/me")).json()
        assert (me["name"], me["roles"]) == ("alice", ["user"])
        assert me["id"] != admin.json()["id"]


# -- API keys -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_key_secret_is_shown_once(client: httpx.AsyncClient, services: Services) -> None:
    async with await as_user(client, services, "alice") as alice:
        me = (await alice.get("/api/v1/me")).json()
        created = await alice.post("/api/v1/keys", json={"name": "laptop"})
        assert created.status_code == 201, created.text
        key = created.json()
        secret = key["key"]
        assert secret.startswith("hp-") and len(secret) > 40
        assert key["prefix"] == secret[: len(key["prefix"])]
        assert (key["name"], key["user_id"], key["revoked_at"]) == ("laptop", me["id"], None)

        async with asgi_client(services, secret) as laptop:
            assert (await laptop.get("/api/v1/me")).json()["name"] == "alice"

        listed = await alice.get("/api/v1/keys")
        assert listed.status_code == 200
        assert [k["name"] for k in listed.json()] == ["test", "laptop"]
        assert all("key" not in k for k in listed.json())
        assert secret not in listed.text
        laptop_entry = next(k for k in listed.json() if k["id"] == key["id"])
        assert laptop_entry.pop("last_used_at") is not None
        assert laptop_entry == {k: v for k, v in key.items() if k not in ("key", "last_used_at")}

        as_admin = await client.get("/api/v1/keys", params={"user": "alice"})
        assert as_admin.status_code == 200
        assert [k["id"] for k in as_admin.json()] == [k["id"] for k in listed.json()]
        assert secret not in as_admin.text
        by_id = await client.get("/api/v1/keys", params={"user": me["id"]})
        assert [k["id"] for k in by_id.json()] == [k["id"] for k in listed.json()]


@pytest.mark.anyio
async def test_users_cannot_make_or_see_keys_of_others(
    client: httpx.AsyncClient, services: Services
) -> None:
    async with (
        await as_user(client, services, "alice") as alice,
        await as_user(client, services, "bob") as bob,
    ):
        for response in [
            await alice.post("/api/v1/keys", json={"name": "sneaky", "user": "admin"}),
            await alice.post("/api/v1/keys", json={"name": "sneaky", "user": "bob"}),
            await alice.get("/api/v1/keys", params={"user": "bob"}),
            await alice.get("/api/v1/keys", params={"user": "admin"}),
            # Whether a user exists is none of alice's business either.
            await alice.get("/api/v1/keys", params={"user": "nobody"}),
            await alice.post("/api/v1/keys", json={"name": "sneaky", "user": "nobody"}),
        ]:
            assert_error(response, 403, "permission_error")
        bob_keys = (await bob.get("/api/v1/keys")).json()
        assert [k["name"] for k in bob_keys] == ["test"]
        alice_keys = (await alice.get("/api/v1/keys")).json()
        assert {k["id"] for k in alice_keys}.isdisjoint(k["id"] for k in bob_keys)

        own = await alice.post("/api/v1/keys", json={"name": "mine", "user": "alice"})
        assert own.status_code == 201, own.text
        for_bob = await client.post("/api/v1/keys", json={"name": "from-admin", "user": "bob"})
        assert for_bob.status_code == 201, for_bob.text
        async with asgi_client(services, for_bob.json()["key"]) as bob_again:
            assert (await bob_again.get("/api/v1/me")).json()["name"] == "bob"
        missing = await client.post("/api/v1/keys", json={"name": "x", "user": "nobody"})
        assert_error(missing, 404, "not_found_error")


@pytest.mark.anyio
async def test_a_revoked_key_stops_working_at_once(
    client: httpx.AsyncClient, services: Services
) -> None:
    async with await as_user(client, services, "alice") as alice:
        key = (await alice.post("/api/v1/keys", json={"name": "laptop"})).json()
        async with asgi_client(services, key["key"]) as laptop:
            assert (await laptop.get("/api/v1/me")).status_code == 200

            revoked = await alice.delete(f"/api/v1/keys/{key['id']}")
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["revoked_at"] is not None
            assert "key" not in revoked.json()

            assert_error(await laptop.get("/api/v1/me"), 401, "authentication_error")
            assert_error(
                await laptop.get("/v1/models"), 401, "authentication_error", code="invalid_api_key"
            )
        listed = {k["id"]: k for k in (await alice.get("/api/v1/keys")).json()}
        assert listed[key["id"]]["revoked_at"] is not None
        assert (await alice.get("/api/v1/me")).status_code == 200, "other keys still work"


@pytest.mark.anyio
async def test_only_owners_and_admins_revoke_a_key(
    client: httpx.AsyncClient, services: Services
) -> None:
    async with (
        await as_user(client, services, "alice") as alice,
        await as_user(client, services, "bob") as bob,
    ):
        key = (await alice.post("/api/v1/keys", json={"name": "laptop"})).json()
        admin_key = (await client.get("/api/v1/keys")).json()[0]

        assert_error(await bob.delete(f"/api/v1/keys/{key['id']}"), 404, "not_found_error")
        assert_error(await bob.delete(f"/api/v1/keys/{admin_key['id']}"), 404, "not_found_error")
        assert_error(await bob.delete("/api/v1/keys/key_nonexistent"), 404, "not_found_error")
        async with asgi_client(services, key["key"]) as laptop:
            assert (await laptop.get("/api/v1/me")).status_code == 200
            assert (await client.get("/api/v1/me")).status_code == 200

            by_admin = await client.delete(f"/api/v1/keys/{key['id']}")
            assert by_admin.status_code == 200, by_admin.text
            assert (await laptop.get("/api/v1/me")).status_code == 401


@sqlite_only
@pytest.mark.anyio
async def test_keys_cannot_be_created_already_expired(client: httpx.AsyncClient) -> None:
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    for body in [
        {"name": "old", "expires_at": past},
        {"name": "both", "expires_at": past, "expires_in_days": 1},
        {"name": "zero", "expires_in_days": 0},
    ]:
        response = await client.post("/api/v1/keys", json=body)
        assert_error(response, 422, "invalid_request_error")
    assert [k["name"] for k in (await client.get("/api/v1/keys")).json()] == ["bootstrap"]


@pytest.mark.anyio
async def test_a_key_stops_working_when_it_expires(
    client: httpx.AsyncClient, services: Services, settings: Settings
) -> None:
    expires = datetime.now(UTC) + timedelta(seconds=1.5)
    zones = {
        "utc": UTC,
        "east": timezone(timedelta(hours=5)),
        "west": timezone(timedelta(hours=-5)),
    }
    secrets: dict[str, str] = {}
    for name, zone in zones.items():
        # The same moment, written in different time zones.
        created = await client.post(
            "/api/v1/keys", json={"name": name, "expires_at": expires.astimezone(zone).isoformat()}
        )
        assert created.status_code == 201, created.text
        assert datetime.fromisoformat(created.json()["expires_at"]) == expires
        secrets[name] = created.json()["key"]
    listed = {k["name"]: k for k in (await client.get("/api/v1/keys")).json()}
    for name in zones:
        assert datetime.fromisoformat(listed[name]["expires_at"]) == expires
        async with asgi_client(services, secrets[name]) as brief:
            assert (await brief.get("/api/v1/me")).status_code == 200, name

    await asyncio.sleep((expires - datetime.now(UTC)).total_seconds() + 0.1)
    for name in zones:
        async with asgi_client(services, secrets[name]) as brief:
            expired = await brief.get("/api/v1/me")
            assert_error(expired, 401, "authentication_error", code="expired_api_key")
    # A server that never saw the key (no cache) refuses it too.
    async with build_services(settings) as fresh:
        for name in zones:
            async with asgi_client(fresh, secrets[name]) as brief:
                expired = await brief.get("/api/v1/me")
                assert_error(expired, 401, "authentication_error", code="expired_api_key")
    assert (await client.get("/api/v1/me")).status_code == 200


# -- the first admin ------------------------------------------------------------------------


@sqlite_only
@pytest.mark.anyio
async def test_the_bootstrap_key_from_the_environment_is_the_admins(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    assert (me.json()["name"], me.json()["roles"]) == ("admin", ["admin"])
    assert not (settings.data_dir / ADMIN_KEY_FILE).exists()
    keys = (await client.get("/api/v1/keys")).json()
    assert [(k["name"], k["prefix"]) for k in keys] == [("bootstrap", ADMIN_KEY[:10])]


@pytest.mark.anyio
async def test_without_a_bootstrap_key_one_is_written_for_the_admin(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bootstrap_api_key=None)
    path = settings.data_dir / ADMIN_KEY_FILE
    async with build_services(settings) as services:
        assert path.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(settings.data_dir.stat().st_mode) & 0o077 == 0
        secret = path.read_text().strip()
        assert secret.startswith("hp-")
        async with asgi_client(services, secret) as admin:
            me = await admin.get("/api/v1/me")
            assert me.status_code == 200
            assert (me.json()["name"], me.json()["roles"]) == ("admin", ["admin"])
        async with asgi_client(services, ADMIN_KEY) as guess:
            assert (await guess.get("/api/v1/me")).status_code == 401

    async with build_services(settings) as services, asgi_client(services, secret) as admin:
        assert path.read_text().strip() == secret
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert (await admin.get("/api/v1/me")).status_code == 200
        assert [u["name"] for u in (await admin.get("/api/v1/users")).json()] == ["admin"]
        assert len((await admin.get("/api/v1/keys")).json()) == 1


@pytest.mark.anyio
async def test_the_written_admin_key_is_private_even_over_an_old_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bootstrap_api_key=None)
    path = settings.ensure_data_dir() / ADMIN_KEY_FILE
    path.write_text("a key from an older installation\n")
    path.chmod(0o644)
    async with build_services(settings) as services:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        async with asgi_client(services, path.read_text().strip()) as admin:
            assert (await admin.get("/api/v1/me")).status_code == 200


@pytest.mark.anyio
async def test_a_second_start_creates_no_second_admin(
    client: httpx.AsyncClient, tmp_path: Path, database_url: str
) -> None:
    assert (await client.post("/api/v1/users", json={"name": "alice"})).status_code == 201
    for key in (ADMIN_KEY, "hp-another-bootstrap-key-0123456789abcdefghijklmnop"):
        again = make_settings(tmp_path, database_url=database_url, bootstrap_api_key=key)
        async with build_services(again) as services, asgi_client(services) as admin:
            users = (await admin.get("/api/v1/users")).json()
            assert sorted(u["name"] for u in users) == ["admin", "alice"]
            assert [k["name"] for k in (await admin.get("/api/v1/keys")).json()] == ["bootstrap"]
            async with asgi_client(services, key) as other:
                expected = 200 if key == ADMIN_KEY else 401
                assert (await other.get("/api/v1/me")).status_code == expected
    assert not (tmp_path / "data" / ADMIN_KEY_FILE).exists()


# -- secrets stay secret --------------------------------------------------------------------


def stored_bytes(data_dir: Path) -> bytes:
    """Everything SQLite keeps on disk: the database file and its write-ahead log."""
    files = sorted(data_dir.glob("homeport.db*"))
    assert files, f"no database in {data_dir}"
    return b"".join(path.read_bytes() for path in files)


@pytest.mark.anyio
async def test_provider_and_api_keys_never_leave_the_server(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    upstream_key = "sk-upstream-" + "s3cr3t" * 8
    settings = make_settings(tmp_path)
    async with build_services(settings) as services, asgi_client(services) as client:
        base_url = fake_openai.base_url  # type: ignore[attr-defined]
        created = await client.post(
            "/api/v1/providers", json={"name": "up", "base_url": base_url, "api_key": upstream_key}
        )
        assert created.status_code == 201, created.text
        user_key = await new_user_key(client, "alice")

        responses = [
            created,
            await client.get("/api/v1/providers"),
            await client.get("/api/v1/providers/up"),
            await client.post("/api/v1/providers/up/refresh"),
            await client.get("/api/v1/keys"),
            await client.get("/api/v1/keys", params={"user": "alice"}),
            await client.get("/v1/models"),
        ]
        for response in responses:
            assert response.status_code in (200, 201), response.text
            assert upstream_key not in response.text
            assert user_key not in response.text and ADMIN_KEY not in response.text
        assert all(p["has_api_key"] for p in responses[1].json() if p["name"] == "up")
        assert responses[2].json()["has_api_key"] is True
        assert "api_key" not in responses[2].json()

        chat = await client.post(
            "/v1/chat/completions",
            json={"model": "up/fake-chat", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert chat.status_code == 200, chat.text
        assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {upstream_key}"

        on_disk = stored_bytes(settings.data_dir)
        for secret in (upstream_key, user_key, ADMIN_KEY):
            assert secret.encode() not in on_disk

    restarted = make_settings(tmp_path)
    async with build_services(restarted) as services, asgi_client(services) as client:
        again = await client.post(
            "/v1/chat/completions",
            json={"model": "up/fake-chat", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert again.status_code == 200, again.text
        assert fake_openai.requests[-1].headers["authorization"] == f"Bearer {upstream_key}"
