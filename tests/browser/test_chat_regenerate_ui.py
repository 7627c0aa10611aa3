"""Regenerating an answer and searching the chat list, in a real browser against a real server
and a fake upstream provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from tests.browser.test_chat_ui import sign_in
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[LiveServer]:
    live = live_server(tmp_path, openai_base_url=fake_openai.base_url)  # type: ignore[attr-defined]
    yield live
    live.stop()


def test_regenerate_streams_a_new_answer_in_place_of_the_old(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue("Port is on the right.")
    sign_in(page, server)
    page.get_by_label("Model").select_option("openai/fake-chat")
    page.get_by_label("Message", exact=True).fill("Which side is port?")
    page.get_by_role("button", name="Send").click()
    answers = page.locator(".message.assistant .text")
    expect(answers).to_have_text("Port is on the right.")

    better = "Port is on the left, facing the bow."
    fake_openai.enqueue(Reply(text=better, token_delay=0.1))
    page.get_by_role("button", name="Regenerate answer").click()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(answers).to_have_count(1)
    expect(answers).to_contain_text("Port is on")
    expect(answers).to_have_text(better)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    assert fake_openai.requests[-1].json["messages"] == [
        {"role": "user", "content": "Which side is port?"}
    ]

    page.reload()
    expect(page.locator(".message.user .text")).to_have_text("Which side is port?")
    expect(answers).to_have_count(1)
    expect(answers).to_have_text(better)
    expect(page.get_by_role("button", name="Regenerate answer")).to_be_visible()


def test_search_filters_the_chat_list(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    ) as http:
        for title in ("Trip to Lisbon", "Taxes 2024"):
            assert http.post("/api/v1/sessions", json={"title": title}).status_code == 201
        recipes = http.post(
            "/api/v1/sessions", json={"title": "Recipes", "model": "openai/fake-chat"}
        ).json()
        fake_openai.enqueue("Try pastéis de nata in Lisbon.")
        turn = http.post(
            f"/api/v1/sessions/{recipes['id']}/messages",
            json={"content": "A dessert?", "stream": False},
        )
        assert turn.status_code == 200, turn.text

    sign_in(page, server)
    chats = page.get_by_role("navigation", name="Chats")
    links = chats.get_by_role("link")
    expect(links).to_have_text(["Recipes", "Taxes 2024", "Trip to Lisbon"])

    search = chats.get_by_label("Search chats")
    search.fill("LISBON")
    expect(links).to_have_text(["Recipes", "Trip to Lisbon"])
    search.fill("no such words")
    expect(chats.get_by_text("No chats match")).to_be_visible()
    expect(links).to_have_count(0)
    search.press("Escape")
    expect(search).to_have_value("")
    expect(links).to_have_text(["Recipes", "Taxes 2024", "Trip to Lisbon"])
