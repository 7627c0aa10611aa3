"""An answer in Markdown, in a real browser: a heading, a list, a table, a link that opens in a
new tab, a highlighted Python block whose Copy button copies its code; HTML in the answer is
text, never run. The question stays plain text.

The model is the fake OpenAI upstream (a scripted answer), registered as a provider."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
MODEL = "up/fake-chat"
CODE = "def fare(adults: int) -> int:\n    return adults * 80"
ANSWER = f"""## Ferry timetable

Boats leave from:

- the old pier
- the fish market

| Day | Departure |
| --- | --- |
| Monday | 07:15 |

```python
{CODE}
```

See [the timetable](https://example.org/ferry) or [this](javascript:alert(1)).

<script>window.pwned = true</script>
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat"])
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("chat-markdown"))
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


def sign_in(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_role("button", name="Use an API key instead").click()
    page.get_by_label("API key", exact=True).fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_label("Model")).to_have_value(MODEL)


def test_an_answer_renders_as_markdown_with_code_to_copy(
    page: Page, server: LiveServer, upstream: FakeOpenAI
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    sign_in(page, server)
    upstream.enqueue(ANSWER)
    question = "When does the ferry leave?\n  **not bold**"
    page.get_by_label("Message", exact=True).fill(question)
    page.get_by_role("button", name="Send").click()

    asked = page.locator(".message.user").last.locator(".text")
    expect(asked).to_have_text(question)  # plain text, whitespace kept, no Markdown
    expect(asked.locator("strong")).to_have_count(0)

    answer = page.locator(".message.assistant").last.locator(".text")
    expect(answer.get_by_role("heading", level=2)).to_have_text("Ferry timetable")
    expect(answer.get_by_role("listitem")).to_have_text(["the old pier", "the fish market"])
    expect(answer.get_by_role("columnheader")).to_have_text(["Day", "Departure"])
    expect(answer.get_by_role("cell")).to_have_text(["Monday", "07:15"])

    link = answer.get_by_role("link", name="the timetable")
    expect(link).to_have_attribute("href", "https://example.org/ferry")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(answer.get_by_text("this", exact=True)).to_be_visible()
    expect(answer.get_by_role("link", name="this", exact=True)).to_have_count(0)

    code = answer.locator("pre code.language-python.hljs")
    expect(code).to_have_text(CODE)
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    copy = answer.get_by_role("button", name="Copy")
    copy.click()
    expect(answer.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == CODE
    expect(answer.get_by_role("button", name="Copy")).to_be_visible()  # back after a while

    expect(answer).to_contain_text("<script>window.pwned = true</script>")
    assert page.evaluate("window.pwned") is None
    expect(answer.locator("script")).to_have_count(0)
