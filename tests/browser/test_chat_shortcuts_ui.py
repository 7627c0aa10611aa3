"""The chat's keyboard shortcuts, in a real browser against a real server and a fake upstream
provider: stop an answer with Esc, a new chat, search and the message box from the keyboard,
and the list of shortcuts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from tests.browser.test_chat_ui import sign_in
from tests.conftest import LiveServer, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[LiveServer]:
    live = live_server(tmp_path, openai_base_url=fake_openai.base_url)  # type: ignore[attr-defined]
    yield live
    live.stop()


def test_the_chat_works_from_the_keyboard(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    sign_in(page, server)
    page.get_by_label("Model").select_option("openai/fake-chat")
    message = page.get_by_label("Message", exact=True)
    fake_openai.enqueue(Reply(text="one two three four five six seven eight", token_delay=0.3))
    message.fill("Count slowly")
    message.press("Enter")
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.locator(".message.assistant .text")).to_contain_text("one")

    page.keyboard.press("Escape")  # stops the answer being written

    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.locator(".message.assistant .text")).not_to_have_text(
        "one two three four five six seven eight"
    )

    page.keyboard.press("Control+K")
    expect(page.get_by_label("Search chats")).to_be_focused()
    page.keyboard.press("Shift+Escape")
    expect(message).to_be_focused()
    page.keyboard.press("Control+Shift+O")
    expect(page.get_by_role("heading", name="New chat", level=1)).to_be_visible()
    expect(page.locator(".message")).to_have_count(0)
    expect(message).to_be_focused()

    page.keyboard.press("Control+/")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("row", name="Ctrl+K Search chats")).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
