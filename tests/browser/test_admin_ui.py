"""The admin pages in a real browser: users, API keys (the secret shown once), the audit log;
no Admin entry for someone who is not an admin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = live_server(tmp_path)
    yield live
    live.stop()


def create_user(server: LiveServer, name: str, *, admin: bool) -> None:
    created = httpx.post(
        f"{server.url}/api/v1/users",
        json={"name": name, "password": PASSWORD, "roles": ["admin"] if admin else ["user"]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert created.status_code in (200, 201), created.text


def me(server: LiveServer, key: str) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1/me", headers={"Authorization": f"Bearer {key}"})


def sign_in(page: Page, server: LiveServer, name: str) -> None:
    page.goto(server.url)
    page.get_by_label("Name or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text(name)


def test_admin_creates_a_user_and_a_key_and_sees_it_audited(page: Page, server: LiveServer) -> None:
    create_user(server, "root", admin=True)
    sign_in(page, server, "root")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    users = page.get_by_role("table", name="Users")
    expect(users.get_by_role("rowheader", name="root")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("grace")
    page.get_by_label("Email (optional)").fill("grace@example.org")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("Created grace.")
    grace = users.get_by_role("row").filter(has=page.get_by_role("rowheader", name="grace"))
    expect(grace).to_contain_text("grace@example.org")
    expect(grace).to_contain_text("Active")

    grace.get_by_role("button", name="Disable grace").click()
    expect(grace).to_contain_text("Disabled")
    grace.get_by_role("button", name="Enable grace").click()
    expect(grace).to_contain_text("Active")

    admin_nav = page.get_by_role("navigation", name="Admin")
    admin_nav.get_by_role("link", name="API keys").click()
    expect(page).to_have_url(f"{server.url}/admin/keys")
    page.get_by_label("Key name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("New API key")
    expect(page.get_by_text("you won't see it again")).to_be_visible()
    key = secret.input_value()
    assert len(key) > 20
    assert me(server, key).json()["name"] == "root"
    keys = page.get_by_role("table", name="API keys")
    expect(keys.get_by_role("rowheader", name="laptop")).to_be_visible()
    page.get_by_role("button", name="I have saved it").click()
    expect(page.get_by_label("New API key")).to_have_count(0)
    page.reload()
    expect(keys.get_by_role("rowheader", name="laptop")).to_be_visible()
    expect(page.get_by_label("New API key")).to_have_count(0)

    admin_nav.get_by_role("link", name="Audit log").click()
    audit = page.get_by_role("table", name="Audit events, newest first")
    created = audit.get_by_role("row").filter(has_text="key.created").filter(has_text="laptop")
    expect(created).to_have_count(1)
    page.get_by_label("Action starts with").fill("user.")
    page.get_by_role("button", name="Filter").click()
    expect(audit.get_by_role("rowheader", name="key.created")).to_have_count(0)


def test_revoking_a_key_and_deleting_a_user(page: Page, server: LiveServer) -> None:
    create_user(server, "root", admin=True)
    create_user(server, "lin", admin=False)
    sign_in(page, server, "root")
    page.goto(f"{server.url}/admin/keys")
    page.get_by_label("Key name").fill("ci")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("New API key").input_value()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke ci").click()
    expect(page.get_by_role("row").filter(has_text="ci")).to_contain_text("Revoked")
    assert me(server, key).status_code == 401

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    page.get_by_role("button", name="Delete lin").click()
    page.get_by_label("Hand over what lin owns to").select_option(label="root")
    page.get_by_role("button", name="Delete lin", exact=True).last.click()
    expect(page.get_by_role("status")).to_have_text("Deleted lin.")
    expect(page.get_by_role("rowheader", name="lin")).to_have_count(0)


def test_a_user_who_is_not_an_admin_sees_no_admin_entry(page: Page, server: LiveServer) -> None:
    create_user(server, "lin", admin=False)
    sign_in(page, server, "lin")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Chat")).to_be_visible()
    expect(nav.get_by_role("link", name="Admin")).to_have_count(0)
    page.goto(f"{server.url}/admin/users")
    expect(page.get_by_role("alert")).to_have_text("Only admins can open this page.")
    expect(page.get_by_role("table")).to_have_count(0)


def wait_for_usage(server: LiveServer, *, requests: int) -> None:
    """Usage is recorded once a request has ended, just after its answer."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = httpx.get(
            f"{server.url}/api/v1/usage", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        ).json()
        if report["data"] and report["data"][0]["requests"] >= requests:
            return
        time.sleep(0.1)
    pytest.fail(f"usage never reached {requests} requests")


def test_providers_and_usage(page: Page, tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    server = live_server(tmp_path)
    try:
        create_user(server, "root", admin=True)
        sign_in(page, server, "root")
        page.goto(f"{server.url}/admin/providers")
        page.get_by_label("Provider name").fill("up")
        page.get_by_label("Base URL").fill(fake_openai.base_url)  # type: ignore[attr-defined]
        page.get_by_role("button", name="Add provider").click()
        expect(page.get_by_role("status")).to_have_text("Added up.")
        up = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="up"))
        expect(up).to_contain_text("OK")
        expect(up.get_by_role("cell").nth(3)).to_have_text("3")
        up.get_by_role("button", name="Refresh up").click()
        expect(page.get_by_role("status")).to_have_text("Refreshed up.")

        for _ in range(2):
            answered = httpx.post(
                f"{server.url}/v1/chat/completions",
                json={"model": "up/fake-chat", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            assert answered.status_code == 200, answered.text
        wait_for_usage(server, requests=2)
        page.get_by_role("navigation", name="Admin").get_by_role("link", name="Usage").click()
        expect(page.get_by_role("img", name="Requests per day")).to_be_visible()
        by_model = page.get_by_role("table", name="Usage by model")
        row = by_model.get_by_role("row").filter(has_text="up/fake-chat")
        expect(row.get_by_role("cell").first).to_have_text("2")

        page.get_by_role("navigation", name="Admin").get_by_role(
            "link", name="Providers", exact=True
        ).click()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Remove up").click()
        expect(page.get_by_role("status")).to_have_text("Removed up.")
        expect(page.get_by_role("rowheader", name="up", exact=True)).to_have_count(0)
    finally:
        server.stop()
