"""Rating answers in a real browser: thumbs down with a comment, kept across a reload."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from tests.browser.test_sign_in_ui import register
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

SHARED = (
    "Your rating, comment and this conversation are shared with the platform's admins, "
    "for evaluations."
)


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[LiveServer]:
    live = live_server(tmp_path, openai_base_url=fake_openai.base_url)  # type: ignore[attr-defined]
    yield live
    live.stop()


def test_thumbs_down_with_a_comment_is_kept_across_a_reload(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(Reply(text="The harbour closes at noon."))
    register(page, server, "ada")
    page.get_by_label("Model").select_option("openai/fake-chat")
    page.get_by_label("Message", exact=True).fill("When does the harbour close?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant")
    expect(answer.locator(".text")).to_have_text("The harbour closes at noon.")

    good = answer.get_by_role("button", name="Good answer")
    bad = answer.get_by_role("button", name="Bad answer")
    expect(bad).to_have_attribute("aria-pressed", "false")
    expect(bad).to_have_attribute("title", "Bad answer. " + SHARED)
    # Cancel leaves the answer unrated.
    bad.click()
    answer.get_by_role("button", name="Cancel").click()
    expect(answer.get_by_label("Comment")).to_have_count(0)
    expect(bad).to_have_attribute("aria-pressed", "false")

    bad.click()
    answer.get_by_label("Comment").fill("It closes at six in summer.")
    answer.get_by_role("button", name="Save").click()
    expect(answer.get_by_label("Comment")).to_have_count(0)
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(good).to_have_attribute("aria-pressed", "false")

    page.reload()
    answer = page.locator(".message.assistant")
    expect(answer.locator(".text")).to_have_text("The harbour closes at noon.")
    bad = answer.get_by_role("button", name="Bad answer")
    expect(bad).to_have_attribute("aria-pressed", "true")
    expect(answer.get_by_role("button", name="Good answer")).to_have_attribute(
        "aria-pressed", "false"
    )
    bad.click()  # opens the comment given, to change it
    expect(answer.get_by_label("Comment")).to_have_value("It closes at six in summer.")

    # What the builders get: the rating, the comment and the conversation.
    [entry] = httpx.get(
        f"{server.url}/api/v1/feedback",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        params={"rating": "down"},
    ).json()["data"]
    assert entry["comment"] == "It closes at six in summer."
    assert [m["content"] for m in entry["conversation"]] == [
        "When does the harbour close?",
        "The harbour closes at noon.",
    ]
