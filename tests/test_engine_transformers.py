"""The transformers engine, running a tiny random Llama on the CPU."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from homeport.domain.chat import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    CompletionRequest,
    SamplingParams,
)
from homeport.domain.runners import ModelSpec
from homeport.domain.transcript import render_transcript
from homeport.errors import ContextLengthExceeded, ServiceUnavailable, UnsupportedFeature
from homeport.runners.engines import transformers as engine_module
from homeport.runners.engines.base import collect
from homeport.testing.tiny_model import write_tiny_model

pytestmark = pytest.mark.anyio

GREEDY = {"temperature": 0.0}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_tiny_model(tmp_path_factory.mktemp("tiny")))


def spec(weights: str, **fields: Any) -> ModelSpec:
    options = {"device": "cpu", **fields.pop("options", {})}
    fields.setdefault("name", "tiny")
    return ModelSpec(engine="transformers", weights=weights, options=options, **fields)


Engine = engine_module.TransformersEngine
Load = Callable[..., Awaitable[Engine]]


@pytest.fixture
async def load(weights: str) -> AsyncIterator[Load]:
    """Load the tiny model (with ModelSpec fields to change); unloaded after the test."""
    engines: list[Engine] = []

    async def load_one(**fields: Any) -> Engine:
        engine = engine_module.create(spec(weights, **fields))
        engines.append(engine)
        await engine.load(lambda message, fraction: None)
        return engine

    yield load_one
    for engine in engines:
        await engine.unload()


def chat(text: str = "Hello, how are you?", **params: Any) -> ChatRequest:
    return ChatRequest(
        model="tiny", messages=[ChatMessage("user", text)], params=SamplingParams(**params)
    )


async def deltas(stream: AsyncIterator[ChatDelta]) -> list[ChatDelta]:
    return [delta async for delta in stream]


def worker_threads(model: str) -> list[str]:
    prefix = f"homeport-transformers-{model}_"
    return [t.name for t in threading.enumerate() if t.name.startswith(prefix)]


def test_version_is_the_transformers_version() -> None:
    import transformers

    assert engine_module.version() == transformers.__version__


async def test_loading_reports_progress_and_memory(weights: str) -> None:
    steps: list[tuple[str, float]] = []
    engine = engine_module.create(spec(weights))
    await engine.load(lambda message, fraction: steps.append((message, fraction)))
    fractions = [fraction for _, fraction in steps]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert steps[-1][0] == "loaded tiny on cpu"
    assert 100_000 < engine.memory_bytes < 10_000_000
    await engine.unload()


async def test_loading_what_is_not_there_fails(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="cannot load 'tiny' with transformers"):
        await engine_module.create(spec(str(tmp_path / "missing"))).load(lambda m, f: None)


async def test_chat_streams_text_then_one_delta_with_finish_and_usage(load: Load) -> None:
    engine = await load()
    streamed = await deltas(engine.chat_stream(chat(max_tokens=12, **GREEDY)))
    assert len(streamed) > 2
    assert all(d.content and d.finish_reason is None for d in streamed[:-1])
    last = streamed[-1]
    assert last.finish_reason == "length"
    assert last.usage is not None
    assert last.usage.completion_tokens == 12
    assert last.usage.prompt_tokens > 5


async def test_max_tokens_bounds_the_answer(load: Load) -> None:
    engine = await load()
    short = await collect(engine.chat_stream(chat(max_tokens=1, **GREEDY)))
    longer = await collect(engine.chat_stream(chat(max_tokens=8, **GREEDY)))
    assert (short.usage.completion_tokens, short.finish_reason) == (1, "length")
    assert (longer.usage.completion_tokens, longer.finish_reason) == (8, "length")
    assert longer.content and short.content is not None
    assert longer.content.startswith(short.content.strip())


async def test_greedy_answers_repeat(load: Load) -> None:
    engine = await load()
    first = await collect(engine.chat_stream(chat(max_tokens=10, **GREEDY)))
    second = await collect(engine.chat_stream(chat(max_tokens=10, **GREEDY)))
    assert first.content == second.content


async def test_a_stop_string_cuts_the_answer_and_ends_generation(load: Load) -> None:
    engine = await load()
    full = await collect(engine.chat_stream(chat(max_tokens=40, **GREEDY)))
    assert full.finish_reason == "length"
    assert full.content is not None and len(full.content) > 20
    middle = len(full.content) // 2
    stop = full.content[middle : middle + 3]
    cut = await collect(engine.chat_stream(chat(max_tokens=400, stop=[stop], **GREEDY)))
    assert cut.content == full.content[: full.content.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.usage.completion_tokens < 200


async def test_cancelling_a_stream_stops_generation(load: Load) -> None:
    engine = await load(name="tiny-cancelled")
    stream = engine.chat_stream(chat(max_tokens=3000, **GREEDY))
    assert (await anext(stream)).content
    started = time.monotonic()
    await stream.aclose()  # type: ignore[attr-defined]
    assert time.monotonic() - started < 5  # a whole answer takes far longer
    answer = await collect(engine.chat_stream(chat(max_tokens=2, **GREEDY)))
    assert answer.usage.completion_tokens == 2
    assert worker_threads("tiny-cancelled")
    await engine.unload()
    assert worker_threads("tiny-cancelled") == []


async def test_a_base_model_reads_a_transcript(load: Load, weights: str) -> None:
    from transformers import AutoTokenizer

    engine = await load(kind="base")
    request = chat(max_tokens=3, **GREEDY)
    answer = await collect(engine.chat_stream(request))
    transcript = AutoTokenizer.from_pretrained(weights)(render_transcript(request.messages))
    assert answer.usage.prompt_tokens == len(transcript["input_ids"])
    completion = await collect(
        engine.complete_stream(
            CompletionRequest(model="tiny", prompt="Once upon", params=SamplingParams(max_tokens=4))
        )
    )
    assert completion.usage.completion_tokens == 4


async def test_a_prompt_longer_than_the_context_is_refused(load: Load) -> None:
    engine = await load(context_length=16)
    with pytest.raises(ContextLengthExceeded):
        await collect(engine.chat_stream(chat("many words " * 20)))


async def test_embeddings_are_normalised_and_do_not_depend_on_the_batch(load: Load) -> None:
    engine = await load(kind="embedding")
    batch = await engine.embed(["hello world", "a longer sentence about cats"], input_type=None)
    alone = await engine.embed(["hello world"], input_type="query")
    assert len(batch.vectors) == 2 and len(batch.vectors[0]) == 64
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-5) for v in batch.vectors)
    assert alone.vectors[0] == pytest.approx(batch.vectors[0], abs=1e-5)
    assert batch.vectors[0] != pytest.approx(batch.vectors[1], abs=1e-3)
    assert batch.usage.prompt_tokens > alone.usage.prompt_tokens > 0
    with pytest.raises(UnsupportedFeature):
        engine.chat_stream(chat())
