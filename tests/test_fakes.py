"""The shipped fake upstreams behave like the providers they stand in for, over real HTTP."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from homeport.testing import (
    BackgroundServer,
    Disconnect,
    Failure,
    FakeOllama,
    FakeOpenAI,
    Reply,
)


@pytest.fixture
def openai() -> Iterator[tuple[FakeOpenAI, httpx.Client]]:
    fake = FakeOpenAI()
    with fake.serve() as server, httpx.Client(base_url=server.url + "/v1") as client:
        yield fake, client


@pytest.fixture
def ollama() -> Iterator[tuple[FakeOllama, httpx.Client]]:
    fake = FakeOllama()
    with fake.serve() as server, httpx.Client(base_url=server.url) as client:
        yield fake, client


def chat(client: httpx.Client, text: str = "hi", **extra: Any) -> httpx.Response:
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/chat/completions", json=body)


def sse_events(client: httpx.Client, path: str, body: dict[str, Any]) -> list[Any]:
    with client.stream("POST", path, json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- BackgroundServer -----------------------------------------------------------------------


def test_background_server_serves_and_stops_without_leaking_its_thread() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    threads_before = threading.active_count()
    with BackgroundServer(app) as server:
        url = server.url
        assert url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(url).text == "hello"
    assert threading.active_count() == threads_before
    with pytest.raises(RuntimeError):
        _ = server.port
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)


# -- FakeOpenAI -----------------------------------------------------------------------------


def test_openai_lists_its_models(openai: tuple[FakeOpenAI, httpx.Client]) -> None:
    _, client = openai
    body = client.get("/models").json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["fake-chat", "fake-embed"]
    assert body["data"][0] == {
        "id": "fake-chat",
        "object": "model",
        "created": 0,
        "owned_by": "fake",
    }


def test_openai_chat_echoes_the_last_user_message_with_word_usage(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    _, client = openai
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": [{"type": "text", "text": "what is up"}]},
    ]
    response = client.post("/chat/completions", json={"model": "fake-chat", "messages": messages})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "echo: what is up"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}


def test_openai_replies_are_consumed_in_order(openai: tuple[FakeOpenAI, httpx.Client]) -> None:
    fake, client = openai
    fake.enqueue("first")
    fake.enqueue(Reply(text="second"))
    fake.json_reply({"answer": 42})
    texts = [chat(client).json()["choices"][0]["message"]["content"] for _ in range(4)]
    assert texts == ["first", "second", '{"answer": 42}', "echo: hi"]


def test_openai_stream_deltas_concatenate_to_the_reply(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    fake, client = openai
    reply = "  Hello,  streaming\nworld! "
    fake.enqueue(reply)
    body = {
        "model": "fake-chat",
        "messages": [{"role": "user", "content": "say it"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = sse_events(client, "/chat/completions", body)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert {event["object"] for event in events} == {"chat.completion.chunk"}
    text = "".join(event["choices"][0]["delta"].get("content", "") for event in events[:-1])
    assert text == reply
    assert len(events) == 1 + 3 + 1 + 1  # role, one per word, finish, usage
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["choices"] == []
    assert events[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_openai_stream_has_no_usage_chunk_unless_asked(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    _, client = openai
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": "x"}], "stream": True}
    events = sse_events(client, "/chat/completions", body)
    assert all(event["choices"] for event in events)
    assert "usage" not in events[-1]


def test_openai_tool_calls(openai: tuple[FakeOpenAI, httpx.Client]) -> None:
    fake, client = openai
    calls = [
        {"name": "add", "arguments": {"a": 1, "b": 2}},
        {"name": "lookup", "arguments": {"q": "x"}},
    ]
    fake.enqueue(Reply(tool_calls=calls))
    choice = chat(client).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_0",
            "type": "function",
            "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
        },
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": "x"}'},
        },
    ]


def test_openai_streamed_tool_calls_assemble_by_index(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    fake, client = openai
    fake.enqueue(Reply(text="Let me check.", tool_calls=[{"name": "add", "arguments": {"a": 1}}]))
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": "x"}], "stream": True}
    events = sse_events(client, "/chat/completions", body)
    assembled: dict[int, dict[str, str]] = {}
    for event in events:
        for call in event["choices"][0]["delta"].get("tool_calls", []):
            slot = assembled.setdefault(call["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] += call.get("id", "")
            slot["name"] += call["function"].get("name", "")
            slot["arguments"] += call["function"].get("arguments", "")
    assert assembled == {0: {"id": "call_0", "name": "add", "arguments": '{"a": 1}'}}
    assert events[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_failure_returns_status_error_json_and_retry_after(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    fake, client = openai
    fake.enqueue(Failure(429, "slow down", retry_after=7), Failure(503, "overloaded"))
    response = chat(client)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    error = response.json()["error"]
    assert error["message"] == "slow down"
    assert set(error) == {"message", "type", "param", "code"}
    response = chat(client)
    assert response.status_code == 503
    assert "retry-after" not in response.headers
    assert chat(client).status_code == 200  # the queue moved on


def test_openai_disconnect_drops_the_connection(openai: tuple[FakeOpenAI, httpx.Client]) -> None:
    fake, client = openai
    fake.enqueue(Disconnect())
    with pytest.raises(httpx.TransportError):
        chat(client)
    assert chat(client).status_code == 200


def test_openai_api_key_is_enforced() -> None:
    fake = FakeOpenAI(api_key="sk-test")
    with fake.serve() as server:
        url = server.url + "/v1/models"
        refused = httpx.get(url)
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
        accepted = httpx.get(url, headers={"Authorization": "Bearer sk-test"})
    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    assert accepted.status_code == 200


def test_openai_unknown_model_and_malformed_json(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    fake, client = openai
    fake.enqueue("kept for later")
    missing = client.post("/chat/completions", json={"model": "gpt-9", "messages": []})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    malformed = client.post("/chat/completions", content=b"{not json")
    assert malformed.status_code == 400
    assert set(malformed.json()["error"]) == {"message", "type", "param", "code"}
    assert chat(client).json()["choices"][0]["message"]["content"] == "kept for later"


def test_openai_text_completions(openai: tuple[FakeOpenAI, httpx.Client]) -> None:
    fake, client = openai
    body = client.post("/completions", json={"model": "fake-chat", "prompt": "once upon"}).json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == "echo: once upon"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    fake.enqueue("a time there was")
    stream = {
        "model": "fake-chat",
        "prompt": "go",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = sse_events(client, "/completions", stream)
    assert "".join(event["choices"][0]["text"] for event in events[:-1]) == "a time there was"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["usage"]["completion_tokens"] == 4


def test_openai_embeddings_are_deterministic_unit_vectors(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    _, client = openai
    one = client.post("/embeddings", json={"model": "fake-embed", "input": "hello world"}).json()
    many = client.post(
        "/embeddings", json={"model": "fake-embed", "input": ["other", "hello world"]}
    ).json()
    vector = one["data"][0]["embedding"]
    assert len(vector) == 8
    assert math.isclose(math.fsum(value * value for value in vector), 1.0)
    assert many["data"][1]["embedding"] == vector
    assert many["data"][0]["embedding"] != vector
    assert [item["index"] for item in many["data"]] == [0, 1]
    assert one["usage"]["prompt_tokens"] == 2


def test_openai_records_every_request(openai: tuple[FakeOpenAI, httpx.Client]) -> None:
    fake, client = openai
    client.get("/models")
    chat(client, "recorded", temperature=0.5)
    first, second = fake.requests
    assert (first.method, first.path, first.json) == ("GET", "/v1/models", None)
    assert (second.method, second.path) == ("POST", "/v1/chat/completions")
    assert second.json["temperature"] == 0.5
    assert second.headers["content-type"] == "application/json"


def test_openai_counts_streams_the_client_abandons(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    fake, client = openai
    fake.enqueue(Reply(text="one two three four five six", token_delay=0.2))
    body = {"model": "fake-chat", "messages": [{"role": "user", "content": "x"}], "stream": True}
    with client.stream("POST", "/chat/completions", json=body) as response:
        first = next(line for line in response.iter_lines() if line)
        assert json.loads(first.removeprefix("data: "))["choices"][0]["delta"]["role"]
        assert fake.active_streams == 1
    assert wait_for(lambda: fake.cancelled_streams == 1)
    assert wait_for(lambda: fake.active_streams == 0)
    sse_events(client, "/chat/completions", body)  # a finished stream is not counted
    assert fake.cancelled_streams == 1


def test_openai_reply_delay_holds_the_answer_back(
    openai: tuple[FakeOpenAI, httpx.Client],
) -> None:
    fake, client = openai
    fake.enqueue(Reply(text="late", delay=0.3))
    started = time.monotonic()
    assert chat(client).json()["choices"][0]["message"]["content"] == "late"
    assert time.monotonic() - started >= 0.3


def test_a_fake_can_go_down_and_come_back_at_the_same_address() -> None:
    fake = FakeOpenAI()
    fake.enqueue("before", "after")
    server = fake.serve()
    url, port = server.url + "/v1/chat/completions", server.port
    body = {"model": "fake-chat", "messages": []}
    assert httpx.post(url, json=body).json()["choices"][0]["message"]["content"] == "before"
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(url, json=body)
    with fake.serve(port=port):
        assert httpx.post(url, json=body).json()["choices"][0]["message"]["content"] == "after"
    assert len(fake.requests) == 2


# -- FakeOllama -----------------------------------------------------------------------------


def test_ollama_tags_and_version(ollama: tuple[FakeOllama, httpx.Client]) -> None:
    _, client = ollama
    models = client.get("/api/tags").json()["models"]
    assert [(m["name"], m["model"], m["details"]["family"]) for m in models] == [
        ("llama3.2:1b", "llama3.2:1b", "llama"),
        ("nomic-embed-text:latest", "nomic-embed-text:latest", "nomic-bert"),
    ]
    assert client.get("/api/version").json() == {"version": "0.5.0"}


def test_ollama_chat_without_streaming(ollama: tuple[FakeOllama, httpx.Client]) -> None:
    fake, client = ollama
    fake.enqueue(Reply(text="calling", tool_calls=[{"name": "add", "arguments": {"a": 1}}]))
    body = {
        "model": "llama3.2:1b",
        "messages": [{"role": "user", "content": "add one"}],
        "stream": False,
        "format": "json",
    }
    answer = client.post("/api/chat", json=body).json()
    assert answer["message"] == {
        "role": "assistant",
        "content": "calling",
        "tool_calls": [{"function": {"name": "add", "arguments": {"a": 1}}}],
    }
    assert (answer["done"], answer["done_reason"]) == (True, "stop")
    assert (answer["prompt_eval_count"], answer["eval_count"]) == (2, 1)


def test_ollama_chat_streams_ndjson_by_default(ollama: tuple[FakeOllama, httpx.Client]) -> None:
    fake, client = ollama
    fake.enqueue("Hello there, friend")
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "hi"}]}
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert [line["done"] for line in lines] == [False, False, False, True]
    assert "".join(line["message"]["content"] for line in lines) == "Hello there, friend"
    assert (lines[-1]["prompt_eval_count"], lines[-1]["eval_count"]) == (1, 3)


def test_ollama_streams_tool_calls_before_the_final_line(
    ollama: tuple[FakeOllama, httpx.Client],
) -> None:
    fake, client = ollama
    fake.enqueue(Reply(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}]))
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "weather?"}]}
    with client.stream("POST", "/api/chat", json=body) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    calls = [call for line in lines for call in line["message"].get("tool_calls", [])]
    assert calls == [{"function": {"name": "weather", "arguments": {"city": "Oslo"}}}]
    assert [line["done"] for line in lines] == [False, True]


def test_ollama_generate(ollama: tuple[FakeOllama, httpx.Client]) -> None:
    _, client = ollama
    body = {"model": "llama3.2:1b", "prompt": "why is the sky blue", "stream": False}
    answer = client.post("/api/generate", json=body).json()
    assert answer["response"] == "echo: why is the sky blue"
    assert answer["done"] is True
    with client.stream("POST", "/api/generate", json={**body, "stream": True}) as response:
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert "".join(line["response"] for line in lines) == "echo: why is the sky blue"
    assert lines[-1]["done"] is True


def test_ollama_embed_and_failures(ollama: tuple[FakeOllama, httpx.Client]) -> None:
    fake, client = ollama
    body = {"model": "nomic-embed-text", "input": ["a b", "c"]}
    answer = client.post("/api/embed", json=body).json()
    assert len(answer["embeddings"]) == 2
    assert len(answer["embeddings"][0]) == 8
    assert answer["prompt_eval_count"] == 3
    assert client.post("/api/embed", json=body).json()["embeddings"] == answer["embeddings"]
    missing = client.post("/api/chat", json={"model": "mystery", "messages": []})
    assert (missing.status_code, missing.json()) == (404, {"error": "model 'mystery' not found"})
    fake.enqueue(Failure(500, "boom", retry_after=2))
    failed = client.post("/api/generate", json={"model": "llama3.2:1b", "prompt": "x"})
    assert (failed.status_code, failed.json()) == (500, {"error": "boom"})
    assert failed.headers["retry-after"] == "2"
