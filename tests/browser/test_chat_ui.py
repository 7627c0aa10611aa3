"""The web UI in a real browser against a real server and a fake upstream provider."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from homeport.testing import Failure, FakeOpenAI, Reply
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

STREAMED = "Green is starboard and red is port, so keep the green light on your right."


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[LiveServer]:
    live = live_server(tmp_path, openai_base_url=fake_openai.base_url)  # type: ignore[attr-defined]
    yield live
    live.stop()


def sign_in(page: Page, server: LiveServer, key: str = ADMIN_KEY) -> None:
    """With an API key: the secondary way, for the bootstrap admin (who has no password)."""
    page.goto(server.url)
    page.get_by_role("button", name="Use an API key instead").click()
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in with the key").click()


def test_a_streamed_chat_is_kept_across_a_reload(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply(text=STREAMED, token_delay=0.15))
    sign_in(page, server)
    page.get_by_label("Model").select_option("openai/fake-chat")
    page.get_by_label("Message", exact=True).fill("Which light is starboard?")
    page.get_by_role("button", name="Send").click()

    answer = page.locator(".message.assistant .text")
    expect(answer).to_contain_text("Green is")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    assert answer.inner_text() != STREAMED, "the answer should appear word by word"
    expect(answer).to_have_text(STREAMED)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_label("Message", exact=True)).to_have_value("")
    expect(page).to_have_url(re.compile(r"/chat/[^/]+$"))
    assert fake_openai.requests[-1].json["model"] == "fake-chat"

    page.reload()
    chats = page.get_by_role("navigation", name="Chats")
    current = chats.get_by_role("link", name="Which light is starboard?")
    expect(current).to_have_attribute("aria-current", "page")
    expect(page.locator(".message.user .text")).to_have_text("Which light is starboard?")
    expect(page.locator(".message.assistant .text")).to_have_text(STREAMED)
    expect(page.get_by_label("Model")).to_have_value("openai/fake-chat")


def test_stop_ends_the_answer_and_keeps_what_came(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    words = " ".join(f"word{i}" for i in range(200))
    fake_openai.enqueue(Reply(text=words, token_delay=0.05))
    sign_in(page, server)
    page.get_by_label("Message", exact=True).fill("Count for me")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.assistant .text")).to_contain_text("word3")
    page.get_by_role("button", name="Stop").click()

    expect(page.locator(".message.assistant .meta")).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    deadline = time.monotonic() + 10
    while fake_openai.cancelled_streams < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_openai.cancelled_streams == 1
    assert "word199" not in page.locator(".message.assistant .text").inner_text()


def test_a_refused_message_shows_the_error_and_keeps_the_text(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Failure(500, "the upstream is on fire"))
    sign_in(page, server)
    page.get_by_label("Message", exact=True).fill("Please answer this")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("alert")).to_contain_text("the upstream is on fire")
    expect(page.get_by_label("Message", exact=True)).to_have_value("Please answer this")
    expect(page.locator(".message")).to_have_count(0)


def test_a_wrong_key_is_refused_with_a_message(page: Page, server: LiveServer) -> None:
    sign_in(page, server, key="hp-not-a-real-key")

    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    expect(page.get_by_label("API key", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_label("Password")).to_be_visible()  # nothing was kept
    assert page.evaluate("localStorage.getItem('homeport.apiKey')") is None


def test_chats_can_be_renamed_and_deleted(page: Page, server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for title in ("Harbour plan", "Tide tables"):
        response = httpx.post(
            f"{server.url}/api/v1/sessions", json={"title": title}, headers=headers
        )
        assert response.status_code == 201, response.text
    sign_in(page, server)
    chats = page.get_by_role("navigation", name="Chats")

    chats.get_by_role("button", name="Rename “Harbour plan”").click()
    chats.get_by_label("Title").fill("Harbour plan, v2")
    chats.get_by_role("button", name="Save").click()
    chats.get_by_role("button", name="Delete “Tide tables”").click()
    confirm = chats.get_by_role("group", name="Delete “Tide tables”?")
    confirm.get_by_role("button", name="Delete").click()
    expect(chats.get_by_role("link")).to_have_text(["Harbour plan, v2"])

    page.reload()
    expect(chats.get_by_role("link")).to_have_text(["Harbour plan, v2"])


def test_the_page_follows_the_dark_color_scheme(browser: Browser, server: LiveServer) -> None:
    context = browser.new_context(color_scheme="dark")
    try:
        dark = context.new_page()
        dark.goto(server.url)
        expect(dark.get_by_label("Password")).to_be_visible()
        background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
        red, green, blue = (int(n) for n in re.findall(r"\d+", background)[:3])
        assert red + green + blue < 150, background
    finally:
        context.close()
