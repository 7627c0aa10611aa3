"""Signing the CLI in by device flow: the API, and `homeport login --device` for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from homeport.services.container import Services
from homeport.settings import Settings
from tests.conftest import (
    ADMIN_KEY,
    LiveServer,
    asgi_client,
    live_server,
    make_settings,
    new_user_key,
)

PUBLIC_URL = "http://homeport"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """On SQLite and on PostgreSQL."""
    return make_settings(tmp_path, public_url=PUBLIC_URL, database_url=database_url)


async def start(anonymous: httpx.AsyncClient, client_name: str = "laptop") -> dict[str, Any]:
    response = await anonymous.post("/api/v1/auth/device", json={"client_name": client_name})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def poll(anonymous: httpx.AsyncClient, started: dict[str, Any]) -> httpx.Response:
    return await anonymous.post(
        "/api/v1/auth/device/token", json={"device_code": started["device_code"]}
    )


def error_code(response: httpx.Response) -> str:
    assert response.status_code in (400, 401, 403, 404), response.text
    return str(response.json()["error"]["code"])


@pytest.mark.anyio
async def test_an_approved_device_gets_one_key_of_the_approver(
    client: httpx.AsyncClient, services: Services
) -> None:
    dana_key = await new_user_key(client, "dana")
    async with asgi_client(services, key=None) as device, asgi_client(services, dana_key) as dana:
        started = await start(device, "dana's laptop!")
        assert started["verification_uri"] == f"{PUBLIC_URL}/device"
        assert started["verification_uri_complete"].endswith(f"?code={started['user_code']}")
        assert started["interval"] == 5 and started["expires_in"] == 600
        assert len(started["user_code"]) == 9 and started["user_code"][4] == "-"

        assert error_code(await poll(device, started)) == "authorization_pending"
        assert error_code(await poll(device, started)) == "slow_down"  # polled at once

        # Dana types the code as people do: any case, no dash.
        typed = started["user_code"].replace("-", "").lower()
        shown = await dana.get("/api/v1/auth/device/approve", params={"user_code": typed})
        assert shown.status_code == 200, shown.text
        assert shown.json()["client_name"] == "dana-s-laptop"
        assert shown.json()["status"] == "pending"
        approved = await dana.post("/api/v1/auth/device/approve", json={"user_code": typed})
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"

        got = await poll(device, started)
        assert got.status_code == 200, got.text
        assert got.json()["name"] == "cli (dana-s-laptop)"
        async with asgi_client(services, got.json()["key"]) as cli:
            assert (await cli.get("/api/v1/me")).json()["name"] == "dana"

        # Once only, and the code cannot be approved again.
        assert error_code(await poll(device, started)) == "invalid_grant"
        again = await dana.post("/api/v1/auth/device/approve", json={"user_code": typed})
        assert error_code(again) == "invalid_user_code"

    events = (await client.get("/api/v1/audit", params={"action": "auth.device_*"})).json()
    assert [e["action"] for e in events["data"]] == ["auth.device_approved"]
    keys = (await client.get("/api/v1/audit", params={"action": "key.created"})).json()["data"]
    assert keys[0]["details"]["name"] == "cli (dana-s-laptop)"


@pytest.mark.anyio
async def test_a_denied_device_gets_nothing(client: httpx.AsyncClient, services: Services) -> None:
    async with asgi_client(services, key=None) as device:
        started = await start(device)
        denied = await client.post(
            "/api/v1/auth/device/approve",
            json={"user_code": started["user_code"], "approve": False},
        )
        assert denied.json()["status"] == "denied"
        assert error_code(await poll(device, started)) == "access_denied"
        approve = {"user_code": started["user_code"]}
        assert error_code(await client.post("/api/v1/auth/device/approve", json=approve)) == (
            "invalid_user_code"
        )


@pytest.mark.anyio
async def test_unknown_codes_are_refused(client: httpx.AsyncClient, services: Services) -> None:
    async with asgi_client(services, key=None) as device:
        unknown = await device.post("/api/v1/auth/device/token", json={"device_code": "nope"})
        assert error_code(unknown) == "invalid_grant"
    shown = await client.get("/api/v1/auth/device/approve", params={"user_code": "BCDF-GHJK"})
    assert error_code(shown) == "invalid_user_code"


@pytest.mark.anyio
async def test_approving_needs_a_signed_in_person_who_may_hold_keys(
    client: httpx.AsyncClient, services: Services
) -> None:
    async with asgi_client(services, key=None) as device:
        started = await start(device)
        body = {"user_code": started["user_code"]}
        refused = await device.post("/api/v1/auth/device/approve", json=body)
        assert refused.status_code == 401

        # A key limited to inference may not hand out keys.
        limited = await client.post("/api/v1/keys", json={"name": "ci", "scopes": ["inference"]})
        async with asgi_client(services, limited.json()["key"]) as ci:
            assert (await ci.post("/api/v1/auth/device/approve", json=body)).status_code == 403
        assert error_code(await poll(device, started)) == "authorization_pending"


@pytest.mark.anyio
async def test_a_browser_session_approves_with_its_csrf_token(services: Services) -> None:
    async with asgi_client(services, key=None) as browser, asgi_client(services, None) as device:
        registered = await browser.post(
            "/api/v1/auth/register", json={"name": "erin", "password": "correct horse battery"}
        )
        assert registered.status_code == 201, registered.text
        started = await start(device)
        body = {"user_code": started["user_code"]}
        forged = await browser.post("/api/v1/auth/device/approve", json=body)
        assert error_code(forged) == "csrf_failed"
        csrf = {"X-CSRF-Token": browser.cookies["homeport_csrf"]}
        approved = await browser.post("/api/v1/auth/device/approve", json=body, headers=csrf)
        assert approved.status_code == 200, approved.text
        key = (await poll(device, started)).json()["key"]
    async with asgi_client(services, key) as cli:
        assert (await cli.get("/api/v1/me")).json()["name"] == "erin"


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = live_server(tmp_path / "server")
    yield live
    live.stop()


def test_login_by_device_saves_the_approved_key(server: LiveServer, tmp_path: Path) -> None:
    """`homeport login --device` shows a code, waits, and saves the key once approved."""
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "BROWSER": "true",  # "opening the browser" runs /bin/true here
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "homeport", "login", "--url", server.url, "--device"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        shown = [process.stdout.readline() for _ in range(3)]
        assert shown[0].startswith(f"To sign in, open {server.url}/device")
        code = shown[1].rsplit(" ", 1)[1].strip()
        admin_key = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=server.url, headers=admin_key) as admin:
            approved = admin.post("/api/v1/auth/device/approve", json={"user_code": code})
            assert approved.status_code == 200, approved.text
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert f"Logged in to {server.url} as admin" in out
    profile = yaml.safe_load((tmp_path / "config" / "homeport" / "profile.yaml").read_text())
    assert profile["url"] == server.url
    response = httpx.get(
        server.url + "/api/v1/me", headers={"Authorization": f"Bearer {profile['api_key']}"}
    )
    assert response.json()["name"] == "admin"
