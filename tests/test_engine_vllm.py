"""The vLLM engine, run against `homeport.testing.fake_vllm` as its `vllm` command."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import signal
import time
from collections.abc import AsyncIterator
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
from homeport.domain.runners import GIB, Gpu, ModelSpec
from homeport.errors import (
    InvalidRequest,
    ServiceUnavailable,
    UnsupportedFeature,
    UpstreamUnavailable,
)
from homeport.runners.engines import vllm
from homeport.runners.engines.base import collect
from homeport.testing import embed_text
from homeport.testing.fake_vllm import VERSION, write_vllm_script

pytestmark = pytest.mark.anyio

QUESTION = "What is the capital of France?"


@pytest.fixture
def executable(tmp_path: Path) -> str:
    return str(write_vllm_script(tmp_path / "bin"))


@pytest.fixture
def vllm_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=vllm.__name__)
    return caplog


def spec(executable: str, *args: str, **fields: Any) -> ModelSpec:
    options = {"executable": executable, "args": list(args), **fields.pop("options", {})}
    fields.setdefault("weights", "/models/fake")
    return ModelSpec(name="fake-model", engine="vllm", options=options, **fields)


async def loaded(model: ModelSpec) -> vllm.VllmEngine:
    engine = vllm.create(model)
    await engine.load(lambda message, fraction: None)
    return engine


def chat(text: str = QUESTION, **params: Any) -> ChatRequest:
    return ChatRequest(
        model="fake-model",
        messages=[ChatMessage("user", text)],
        params=SamplingParams(**params),
    )


async def deltas(stream: AsyncIterator[ChatDelta]) -> list[ChatDelta]:
    return [delta async for delta in stream]


def server_pid(log: pytest.LogCaptureFixture) -> int:
    found = re.search(r"Started server process \[(\d+)\]", log.text)
    assert found, log.text
    return int(found.group(1))


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- loading ------------------------------------------------------------------------------


async def test_loading_reports_progress_and_the_weights_memory(executable: str) -> None:
    steps: list[tuple[str, float]] = []
    engine = vllm.create(spec(executable))
    await engine.load(lambda message, fraction: steps.append((message, fraction)))
    try:
        fractions = [fraction for _, fraction in steps]
        assert fractions == sorted(fractions)
        assert fractions[0] == 0.0 and fractions[-1] == 1.0
        assert ("loading weights: shard 1/2", 0.4) in steps
        assert engine.memory_bytes == GIB // 2
    finally:
        await engine.unload()


async def test_declared_memory_counts_when_it_is_more_than_the_weights(executable: str) -> None:
    engine = await loaded(spec(executable, memory_bytes=3 * GIB))
    try:
        # On a GPU machine vLLM is given a rounded-up fraction of the GPU: a little more.
        assert 3 * GIB <= engine.memory_bytes < 3.2 * GIB
    finally:
        await engine.unload()


async def test_a_failed_start_raises_with_the_last_log_lines(executable: str) -> None:
    engine = vllm.create(spec(executable, "--fake-fail-startup"))
    with pytest.raises(ServiceUnavailable) as failure:
        await engine.load(lambda message, fraction: None)
    assert "exited with code 1" in failure.value.message
    assert "CUDA out of memory (fake)" in failure.value.message
    assert "shards:  50% Completed" in failure.value.message


async def test_a_start_that_takes_too_long_is_stopped(
    executable: str, vllm_log: pytest.LogCaptureFixture
) -> None:
    model = spec(executable, "--fake-load-seconds", "30", options={"load_timeout": 0.5})
    with pytest.raises(ServiceUnavailable, match=r"did not become ready in 0\.5 s"):
        await loaded(model)
    assert "vLLM for 'fake-model' stopped" in vllm_log.text


async def test_a_missing_vllm_command_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="is not installed"):
        await loaded(spec(str(tmp_path / "no-such-vllm")))


# -- answering ------------------------------------------------------------------------------


async def test_chat_streams_deltas_and_ends_with_finish_and_usage(executable: str) -> None:
    engine = await loaded(spec(executable))
    try:
        streamed = await deltas(engine.chat_stream(chat()))
        answer = await collect(engine.chat_stream(chat()))
    finally:
        await engine.unload()
    assert "".join(d.content or "" for d in streamed) == f"echo: {QUESTION}"
    assert all(d.finish_reason is None and d.usage is None for d in streamed[:-1])
    last = streamed[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None and last.usage.completion_tokens == 7
    assert answer.content == f"echo: {QUESTION}"
    assert answer.usage.prompt_tokens == 6


async def test_a_base_model_is_prompted_with_a_transcript(executable: str) -> None:
    engine = await loaded(spec(executable, kind="base"))
    try:
        answer = await collect(engine.chat_stream(chat()))
        completion = await collect(
            engine.complete_stream(CompletionRequest(model="fake-model", prompt="Once upon"))
        )
    finally:
        await engine.unload()
    assert answer.content is not None
    assert f"Question: {QUESTION}\nAnswer:" in answer.content
    assert completion.content == "echo: Once upon"
    assert completion.usage.completion_tokens == 3


async def test_embeddings(executable: str) -> None:
    engine = await loaded(spec(executable, kind="embedding"))
    try:
        result = await engine.embed(["first text", "second"], input_type="passage")
        with pytest.raises(UnsupportedFeature):
            engine.chat_stream(chat())
    finally:
        await engine.unload()
    assert result.vectors == [embed_text("first text"), embed_text("second")]
    assert all(math.isclose(math.hypot(*v), 1.0) for v in result.vectors)
    assert result.usage.prompt_tokens == 3


async def test_what_vllm_rejects_keeps_its_message(executable: str) -> None:
    engine = await loaded(spec(executable, context_length=8))
    try:
        with pytest.raises(InvalidRequest, match="maximum context length is 8 tokens"):
            await collect(engine.chat_stream(chat(max_tokens=5)))
    finally:
        await engine.unload()


async def test_cancelling_a_stream_aborts_the_request(
    executable: str, vllm_log: pytest.LogCaptureFixture
) -> None:
    engine = await loaded(spec(executable, "--fake-token-delay", "0.05"))
    try:
        stream = engine.chat_stream(chat(" ".join(["word"] * 200)))
        received = [await anext(stream) for _ in range(3)]
        started = time.monotonic()
        await stream.aclose()  # type: ignore[attr-defined]
        assert time.monotonic() - started < 5  # a whole answer takes far longer
        for _ in range(50):
            if "Aborted request /v1/chat/completions" in vllm_log.text:
                break
            await asyncio.sleep(0.1)
        assert "Aborted request /v1/chat/completions" in vllm_log.text
        assert [d.content for d in received[1:]] == ["echo:", " word"]
        assert (await collect(engine.chat_stream(chat("again")))).content == "echo: again"
    finally:
        await engine.unload()


# -- the process ----------------------------------------------------------------------------


async def test_unloading_stops_the_process(
    executable: str, vllm_log: pytest.LogCaptureFixture
) -> None:
    engine = await loaded(spec(executable))
    pid = server_pid(vllm_log)
    assert is_running(pid)
    await engine.unload()
    assert not is_running(pid)
    with pytest.raises(ServiceUnavailable, match="not loaded"):
        engine.chat_stream(chat())


async def test_a_process_that_ignores_sigterm_is_killed(
    executable: str, vllm_log: pytest.LogCaptureFixture
) -> None:
    model = spec(executable, "--fake-ignore-sigterm", options={"stop_timeout": 0.3})
    engine = await loaded(model)
    pid = server_pid(vllm_log)
    await engine.unload()
    assert not is_running(pid)
    assert "ignored SIGTERM" in vllm_log.text


async def test_a_crashed_process_makes_requests_fail(
    executable: str, vllm_log: pytest.LogCaptureFixture
) -> None:
    engine = await loaded(spec(executable))
    try:
        os.kill(server_pid(vllm_log), signal.SIGKILL)
        await asyncio.sleep(0.2)
        with pytest.raises(UpstreamUnavailable):
            await collect(engine.chat_stream(chat()))
    finally:
        await engine.unload()


# -- what it runs ----------------------------------------------------------------------------


def test_version_asks_the_vllm_on_path(
    executable: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(Path(executable).parent))
    assert vllm.version() == VERSION
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert vllm.version() is None


def test_the_command_line(executable: str) -> None:
    model = spec(
        executable,
        "--enforce-eager",
        context_length=4096,
        options={"tensor_parallel_size": 2},
    )
    command = vllm.serve_command(model, executable="vllm", port=8123, utilization=0.25)
    assert command == [
        "vllm", "serve", "/models/fake", "--host", "127.0.0.1", "--port", "8123",
        "--served-model-name", "fake-model", "--max-model-len", "4096",
        "--gpu-memory-utilization", "0.250", "--tensor-parallel-size", "2", "--enforce-eager",
    ]  # fmt: skip


def test_gpu_memory_is_shared_across_tensor_parallel_gpus() -> None:
    gpus = [Gpu(index=i, name="H100", memory_total=80 * GIB) for i in range(4)]
    one = ModelSpec(name="m", engine="vllm", memory_bytes=20 * GIB)
    two = ModelSpec(
        name="m", engine="vllm", memory_bytes=20 * GIB, options={"tensor_parallel_size": 2}
    )
    pinned = ModelSpec(name="m", engine="vllm", options={"env": {"CUDA_VISIBLE_DEVICES": "2,3"}})
    assert vllm.memory_utilization(one, vllm.instance_gpus(one, gpus)) == 0.25
    assert vllm.memory_utilization(two, vllm.instance_gpus(two, gpus)) == 0.125
    assert [g.index for g in vllm.instance_gpus(two, gpus)] == [0, 1]
    assert [g.index for g in vllm.instance_gpus(pinned, gpus)] == [2]
    huge = ModelSpec(name="m", engine="vllm", memory_bytes=200 * GIB)
    assert vllm.memory_utilization(huge, gpus) == vllm.MAX_UTILIZATION
    given = ModelSpec(name="m", engine="vllm", options={"gpu_memory_utilization": 0.5})
    assert vllm.memory_utilization(given, []) == 0.5
    assert vllm.memory_utilization(one, []) is None


def test_load_progress_from_real_vllm_lines() -> None:
    shard = "Loading safetensors checkpoint shards:  75% Completed | 3/4 [00:03<00:01,  1.0s/it]"
    assert vllm.load_progress(shard) == ("loading weights: shard 3/4", pytest.approx(0.55))
    took = "INFO 10-01 12:00:00 [gpu_model_runner.py:2602] Model loading took 14.9917 GiB and 5.1 s"
    assert vllm.weights_bytes(took) == int(14.9917 * GIB)
    assert vllm.load_progress("INFO Application startup complete.") == (
        "starting the API server",
        0.95,
    )
    assert vllm.load_progress("INFO Some other line") is None
