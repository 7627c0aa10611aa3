"""A new user's first visit, without the CLI, on a new installation (demo apps on): register,
chat, add a web page to a new knowledge base and ask about it (the answer cites the page),
then use a demo app from the store. The model is the fake upstream; the web page is served on
a local socket, which the admin allowed (HOMEPORT_OUTBOUND_ALLOW)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from homeport.testing.servers import BackgroundServer
from tests.browser.test_sign_in_ui import register
from tests.conftest import LiveServer, live_server

pytestmark = pytest.mark.browser

INGESTION_MS = 60_000
PAGE = """<!doctype html><html><head><title>Visiting the lighthouse</title></head><body><main>
<h1>Visiting the lighthouse of Brekka</h1>
<p>The tower is open to visitors from June to August, every day from 10:00 to 16:00.</p>
<p>Tickets cost 80 kroner for adults; children under twelve climb for free.</p>
</main></body></html>"""


@pytest.fixture
def site() -> Iterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/visiting", page)
    server = BackgroundServer(app).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture
def server(tmp_path: Path, fake_openai: FakeOpenAI, site: str) -> Iterator[LiveServer]:
    live = live_server(
        tmp_path,
        openai_base_url=fake_openai.base_url,  # type: ignore[attr-defined]
        demo_apps=True,
        outbound_allow=[site.removeprefix("http://")],
    )
    yield live
    live.stop()


def test_a_new_user_chats_asks_a_web_page_and_uses_a_demo_app(
    page: Page, server: LiveServer, fake_openai: FakeOpenAI, site: str
) -> None:
    register(page, server, "ada")
    expect(page.get_by_label("Signed in as")).to_have_text("ada")
    fake_openai.enqueue(Reply(text="Hello, ada."))
    page.get_by_label("Message", exact=True).fill("Hello?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message.assistant .text")).to_have_text("Hello, ada.")

    # Knowledge: a base with a web page, then a chat grounded in it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Knowledge").click()
    page.get_by_label("Name", exact=True).fill("Lighthouse")
    page.get_by_role("button", name="Create knowledge base").click()
    expect(page.get_by_role("heading", name="Lighthouse", level=1)).to_be_visible()
    page.get_by_label("URL", exact=True).fill(f"{site}/visiting")
    page.get_by_role("button", name="Add page").click()
    documents = page.get_by_role("table", name="Documents")
    expect(documents).to_contain_text("Ready", timeout=INGESTION_MS)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Chat").click()
    page.get_by_role("button", name="New chat").click()
    page.get_by_role("button", name="Knowledge", exact=True).click()
    page.get_by_role("checkbox", name="Lighthouse").check()
    page.get_by_role("button", name="Save").click()
    fake_openai.enqueue("Adults pay 80 kroner [1].")
    page.get_by_label("Message", exact=True).fill("How much is a ticket for an adult?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".text")).to_contain_text("Adults pay 80 kroner")
    link = answer.locator(".text").get_by_label(re.compile(r"^Source 1\b"))
    expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(site)}/visiting"))

    # The store has the demo apps; a starter opens a chat with Marvin.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    expect(page.get_by_role("article", name="Brekka tour guide")).to_be_visible()
    marvin = page.get_by_role("article", name="Marvin the Paranoid Android")
    fake_openai.enqueue("Life. Don't talk to me about life.")
    marvin.get_by_role("button", name="How are you today?").click()
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".text")).to_have_text("Life. Don't talk to me about life.")
    expect(answer.locator(".role")).to_have_text("Marvin the Paranoid Android")
    assert "You are Marvin" in fake_openai.requests[-1].json["messages"][0]["content"]
