"""Signing in with a real browser: registration, password sign-in, the cookie, sign-out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[LiveServer]:
    live = live_server(tmp_path, openai_base_url=fake_openai.base_url)  # type: ignore[attr-defined]
    yield live
    live.stop()


def register(page: Page, server: LiveServer, name: str) -> None:
    page.goto(server.url)
    page.get_by_role("button", name="Create an account").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def test_register_then_chat_then_sign_out_and_back_in(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply(text="Ahoy, new sailor."))
    register(page, server, "ada")
    expect(page.get_by_label("Signed in as")).to_have_text("ada")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["homeport_session"]["httpOnly"] is True
    assert cookies["homeport_csrf"]["httpOnly"] is False
    assert page.evaluate("localStorage.getItem('homeport.apiKey')") is None

    # Chatting makes unsafe requests with the cookie: the UI sends the CSRF token.
    page.get_by_label("Model").select_option("openai/fake-chat")
    page.get_by_label("Message", exact=True).fill("Hello?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.assistant .text")).to_have_text("Ahoy, new sailor.")

    page.reload()
    expect(page.get_by_label("Signed in as")).to_have_text("ada")
    chats = page.get_by_role("navigation", name="Chats")
    expect(chats.get_by_role("link", name="Hello?")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Password")).to_be_visible()
    assert "homeport_session" not in {c["name"] for c in page.context.cookies()}
    page.reload()
    expect(page.get_by_label("Password")).to_be_visible()

    page.get_by_label("Name or email").fill("ada")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect name or password")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text("ada")
    expect(chats.get_by_role("link", name="Hello?")).to_be_visible()


def test_closed_registration_offers_no_account_creation(page: Page, server: LiveServer) -> None:
    closed = httpx.put(
        f"{server.url}/api/v1/settings",
        json={"registration": "closed"},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert closed.status_code == 200, closed.text
    page.goto(server.url)
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("button", name="Use an API key instead")).to_be_visible()
    expect(page.get_by_role("button", name="Create an account")).to_have_count(0)


def test_a_session_ended_elsewhere_returns_to_the_sign_in_page(
    page: Page, server: LiveServer
) -> None:
    register(page, server, "grace")
    expect(page.get_by_label("Signed in as")).to_have_text("grace")
    user = httpx.get(
        f"{server.url}/api/v1/users/grace", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ).json()
    # The first to register is an admin; disable through the admin key, then come back.
    disabled = httpx.patch(
        f"{server.url}/api/v1/users/{user['id']}",
        json={"disabled": True},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert disabled.status_code == 200, disabled.text
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("no longer accepted")
    expect(page.get_by_label("Password")).to_be_visible()
