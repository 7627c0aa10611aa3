"""A deterministic engine for tests: it declares memory, loads and answers on a schedule.

Options (a Model's `options`):
    load_seconds   how long loading takes (progress is reported in four steps)
    token_delay    seconds between tokens
    tokens         pad every answer to this many tokens ("tok1", "tok2", ...)
    memory_bytes   what the instance reports using once loaded (default: the spec's)
    fail_load      a message: loading fails with it

The answer to a chat is `echo: <the last user message>` word by word (then the padding), so
a test can tell which question an answer belongs to. Embeddings are the hashed vectors of
`homeport.testing.embed_text`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    CompletionRequest,
    EmbeddingResult,
    SamplingParams,
    Usage,
)
from homeport.domain.runners import ModelSpec
from homeport.errors import ServiceUnavailable
from homeport.runners.engines.base import EngineBase, Progress
from homeport.testing.scripting import embed_text


def version() -> str:
    return "1.0"


def create(spec: ModelSpec) -> FakeEngine:
    return FakeEngine(spec)


class FakeEngine(EngineBase):
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self._options: dict[str, Any] = spec.options
        self._loaded = False

    @property
    def memory_bytes(self) -> int:
        return int(self._options.get("memory_bytes") or self.spec.memory_bytes)

    async def load(self, progress: Progress) -> None:
        seconds = float(self._options.get("load_seconds") or 0)
        for step in range(4):
            progress(f"loading {self.spec.name}", step / 4)
            if seconds:
                await asyncio.sleep(seconds / 4)
        if failure := self._options.get("fail_load"):
            raise ServiceUnavailable(str(failure))
        self._loaded = True
        progress(f"loaded {self.spec.name}", 1.0)

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        question = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        return self._stream(["echo:", *question.split()], request.params, len(request.messages))

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[ChatDelta]:
        return self._stream(["echo:", *request.prompt.split()], request.params, 1)

    async def embed(self, texts: list[str], *, input_type: str | None) -> EmbeddingResult:
        vectors = [embed_text(text) for text in texts]
        return EmbeddingResult(vectors, Usage(prompt_tokens=sum(len(t.split()) for t in texts)))

    async def _stream(
        self, words: list[str], params: SamplingParams, prompt_tokens: int
    ) -> AsyncIterator[ChatDelta]:
        pad = int(self._options.get("tokens") or 0)
        words += [f"tok{i}" for i in range(1, pad - len(words) + 1)]
        finish = "stop"
        if params.max_tokens is not None and len(words) > params.max_tokens:
            words, finish = words[: params.max_tokens], "length"
        delay = float(self._options.get("token_delay") or 0)
        for i, word in enumerate(words):
            if delay:
                await asyncio.sleep(delay)
            yield ChatDelta(content=word if i == 0 else f" {word}")
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=len(words))
        yield ChatDelta(finish_reason=finish, usage=usage)
