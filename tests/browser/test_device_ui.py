"""The device sign-in page (/device) in a real browser, signed in with a session cookie."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = live_server(tmp_path)
    yield live
    live.stop()


def test_a_signed_in_person_approves_a_device_and_it_gets_their_key(
    page: Page, server: LiveServer
) -> None:
    started = httpx.post(f"{server.url}/api/v1/auth/device", json={"client_name": "build-box"})
    code = started.json()["user_code"]
    # Signed in with a password: the page's requests carry the cookie and the CSRF token.
    page.goto(server.url)
    registered = page.request.post(
        f"{server.url}/api/v1/auth/register",
        data={"name": "nina", "password": "a long enough password"},
    )
    assert registered.ok, registered.text()

    page.goto(f"{server.url}/device?code={code}")
    expect(page.get_by_label("The code your terminal shows")).to_have_value(code)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Sign in build-box")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approved: build-box is signed in")

    token = httpx.post(
        f"{server.url}/api/v1/auth/device/token",
        json={"device_code": started.json()["device_code"]},
    )
    assert token.status_code == 200, token.text
    me = httpx.get(
        f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {token.json()['key']}"}
    )
    assert me.json()["name"] == "nina"


def test_a_wrong_code_is_explained(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    registered = page.request.post(
        f"{server.url}/api/v1/auth/register",
        data={"name": "omar", "password": "a long enough password"},
    )
    assert registered.ok, registered.text()
    page.goto(f"{server.url}/device")
    page.get_by_label("The code your terminal shows").fill("BCDF-GHJK")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("No sign-in is waiting for this code")
