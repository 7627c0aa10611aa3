"""The provider `local`: models in the catalogue, served by runners through the scheduler.

The co-located runner inside `homeport serve` and remote GPU runners are reached the same
way. A request that fails because its runner went away before the first token is retried on
another instance; once tokens have gone out, the stream ends with the error instead.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, Protocol

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
)
from homeport.domain.models import ModelInfo
from homeport.domain.runners import RUNNER_PROVIDER, ModelSpec
from homeport.errors import ModelNotFound, UnsupportedFeature, UpstreamUnavailable
from homeport.providers.base import ProviderBase
from homeport.runners import protocol
from homeport.runners.engines.base import collect
from homeport.scheduler.scheduler import Lease, Scheduler

# How many instances a request may try before its error is final.
ATTEMPTS = 3


class ModelList(Protocol):
    def get(self, name: str) -> ModelSpec | None: ...

    def all(self) -> list[ModelSpec]: ...


class RunnerPool(ProviderBase):
    name = RUNNER_PROVIDER

    def __init__(self, scheduler: Scheduler, models: ModelList):
        self.scheduler = scheduler
        self.models = models

    async def list_models(self) -> list[ModelInfo]:
        return [spec.info() for spec in self.models.all()]

    async def chat(self, model: ModelInfo, request: ChatRequest) -> ChatResult:
        return await collect(self.chat_stream(model, request))

    def chat_stream(self, model: ModelInfo, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        payload = {"request": protocol.chat_request_to_wire(request)}
        return self._stream(self._spec(model, "chat"), "chat", payload)

    async def complete(self, model: ModelInfo, request: CompletionRequest) -> ChatResult:
        return await collect(self.complete_stream(model, request))

    def complete_stream(
        self, model: ModelInfo, request: CompletionRequest
    ) -> AsyncIterator[ChatDelta]:
        payload = {"request": protocol.completion_request_to_wire(request)}
        return self._stream(self._spec(model, "completion"), "complete", payload)

    async def embed(
        self, model: ModelInfo, texts: list[str], *, input_type: str | None
    ) -> EmbeddingResult:
        spec = self._spec(model, "embedding")
        payload = {"texts": texts, "input_type": input_type}
        async with aclosing(self._attempts(spec, "embed", payload)) as messages:
            async for message in messages:
                return protocol.embedding_from_wire(message["result"])
        raise UpstreamUnavailable(f"model '{model.id}' returned no embeddings")

    def _spec(self, model: ModelInfo, operation: str) -> ModelSpec:
        spec = self.models.get(model.name)
        if spec is None:
            raise ModelNotFound(model.id)
        is_embedder = spec.kind == "embedding"
        if is_embedder != (operation == "embedding"):
            what = "makes embeddings only" if is_embedder else "does not make embeddings"
            raise UnsupportedFeature(f"model '{model.id}' {what}", param="model")
        return spec

    async def _stream(
        self, spec: ModelSpec, operation: str, payload: dict[str, Any]
    ) -> AsyncIterator[ChatDelta]:
        async with aclosing(self._attempts(spec, operation, payload)) as messages:
            async for message in messages:
                yield protocol.delta_from_wire(message["delta"])

    async def _attempts(
        self, spec: ModelSpec, operation: str, payload: dict[str, Any]
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The request's messages from the first instance that takes it."""
        for attempt in range(1, ATTEMPTS + 1):
            lease = await self.scheduler.acquire(spec)
            started = False
            stream = lease.link.stream(operation, lease.instance.id, payload)
            try:
                async with aclosing(stream):
                    async for message in stream:
                        started = True
                        yield message
                return
            except UpstreamUnavailable as exc:
                if started or attempt == ATTEMPTS or not self._retryable(lease, exc):
                    raise
                self.scheduler.record_retry(spec.name, lease.instance.runner.name, exc.message)
            finally:
                self.scheduler.release(lease)

    def _retryable(self, lease: Lease, exc: UpstreamUnavailable) -> bool:
        """The runner went away, or no longer holds the instance: forget it, try another."""
        if lease.link.closed:
            return True
        if exc.code == "instance_gone":
            self.scheduler.forget(lease.instance)
            return True
        return False
