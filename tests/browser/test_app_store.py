"""The app store in a real browser: Marvin's card with its conversation starter, which opens a
chat that Marvin answers in character (its system prompt reaching the model); then Marvin's
page with its YAML, its version history and the diff a second version makes, and publishing it.

Marvin is applied through the API (`POST /api/v1/apply`), as `homeport apply` does; its model is
the fake OpenAI upstream (scripted answers), registered as a provider."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
SYSTEM_PROMPT = "You are Marvin, the Paranoid Android. Answer gloomily."
NAME = "Marvin the Paranoid Android"
MARVIN: dict[str, Any] = {
    "name": NAME,
    "description": "Brain the size of a planet.",
    "avatar": "🤖",
    "assistants": [
        {
            "model": "up/fake-chat",
            "system_prompt": SYSTEM_PROMPT,
            "conversation_starters": ["How are you?"],
        }
    ],
}
IN_CHARACTER = "Life. Don't talk to me about life."


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat"])
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("app-store"))
    try:
        added = httpx.post(
            f"{live.url}/api/v1/providers",
            json={"name": "up", "base_url": upstream.base_url},  # type: ignore[attr-defined]
            headers=HEADERS,
        )
        assert added.status_code == 201, added.text
        apply(live, MARVIN)
        yield live
    finally:
        live.stop()


def apply(server: LiveServer, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    resource = {
        "apiVersion": "app.aispec.org/v1alpha1",
        "kind": "AIApp",
        "metadata": {"name": "marvin"},
        "spec": spec,
    }
    response = httpx.post(
        f"{server.url}/api/v1/apply", json={"resources": [resource], **extra}, headers=HEADERS
    )
    assert response.status_code == 200, response.text
    return dict(response.json()[0])


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_role("button", name="Use an API key instead").click()
    page.get_by_label("API key", exact=True).fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def open_store(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    expect(page.get_by_role("heading", name="Apps", exact=True)).to_be_visible()


def test_a_conversation_starter_opens_a_chat_with_the_app(
    page: Page, server: LiveServer, upstream: FakeOpenAI
) -> None:
    sign_in(page, server)
    open_store(page)
    card = page.get_by_role("article", name=NAME)
    expect(card).to_contain_text("Brain the size of a planet.")
    expect(card.locator(".app-avatar")).to_have_text("🤖")
    expect(card).to_contain_text("app/marvin")

    upstream.enqueue(IN_CHARACTER)
    card.get_by_role("button", name="How are you?").click()
    expect(page).to_have_url(re.compile(r"/chat/[^/]+$"))
    question = page.locator(".message.user").last
    expect(question.locator(".text")).to_have_text("How are you?")
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".text")).to_have_text(IN_CHARACTER)
    expect(answer.locator(".role")).to_have_text(NAME)
    sent = upstream.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert sent["messages"][-1] == {"role": "user", "content": "How are you?"}

    # The chat is Marvin's: its header says so, and so does the model picker, after a reload too.
    session_id = page.url.rsplit("/", 1)[-1]
    stored = httpx.get(f"{server.url}/api/v1/sessions/{session_id}", headers=HEADERS).json()
    assert stored["model"] == "app/marvin"
    page.reload()
    header = page.locator(".conversation-header")
    expect(header.get_by_role("link", name=NAME, exact=True)).to_be_visible()
    expect(page.get_by_label("Model")).to_have_value("app/marvin")
    expect(page.locator(".message.assistant .text")).to_have_text(IN_CHARACTER)


def test_the_app_page_shows_its_yaml_history_and_diffs(page: Page, server: LiveServer) -> None:
    sign_in(page, server)
    open_store(page)
    page.get_by_role("article", name=NAME).get_by_role("link", name=NAME, exact=True).click()
    expect(page).to_have_url(re.compile(r"/apps/marvin$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    spec = page.get_by_label("YAML of marvin")
    expect(spec).to_contain_text("kind: AIApp")
    expect(spec).to_contain_text(f"system_prompt: {SYSTEM_PROMPT}")
    history = page.get_by_role("region", name="Version history table")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody tr").first).to_contain_text("Current")
    expect(page.get_by_text("nothing to compare yet")).to_be_visible()
    tests = page.get_by_role("region", name="Test results")
    expect(tests).to_contain_text("No eval runs yet")

    gloomier = {**MARVIN, "description": "Now even gloomier."}
    git = {"commit": "0123456789abcdef", "branch": "main"}
    assert apply(server, gloomier, version_label="gloomier", git=git)["version"] == 2
    page.reload()
    rows = history.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Current")
    expect(rows.first).to_contain_text("gloomier")
    expect(rows.first).to_contain_text("0123456789")
    expect(rows.first).to_contain_text("up/fake-chat")
    expect(rows.last).not_to_contain_text("Current")
    expect(spec).to_contain_text("description: Now even gloomier.")

    diff = page.get_by_label("Changes from version 1 to version 2")
    expect(diff.locator("del")).to_have_text(["-  description: Brain the size of a planet."])
    expect(diff.locator("ins")).to_have_text(["+  description: Now even gloomier."])
    page.get_by_label("From version", exact=True).select_option("2")
    page.get_by_label("To version", exact=True).select_option("1")
    flipped = page.get_by_label("Changes from version 2 to version 1")
    expect(flipped.locator("ins")).to_have_text(["+  description: Brain the size of a planet."])

    # A platform admin puts it in everyone's store.
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="everyone's app store")).to_be_visible()
    expect(page.get_by_role("button", name="Unpublish")).to_be_visible()
    listed = httpx.get(f"{server.url}/api/v1/apps", headers=HEADERS).json()
    assert [app["published"] for app in listed if app["name"] == "marvin"] == [True]
