"""The inference router: the one path every chat, completion and embedding request takes.

It resolves the model, fits the conversation into the model's context, calls the provider,
and accounts for what happened (metrics: requests, latency, tokens). Streams are wrapped so
that a consumer who stops early cancels the provider's generation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    Usage,
)
from homeport.domain.context import trim_to_context
from homeport.domain.models import ModelInfo
from homeport.errors import HomeportError, InvalidRequest
from homeport.observability.metrics import Metrics
from homeport.providers.base import Provider
from homeport.providers.catalog import ModelCatalog

# Tokens kept free for the answer when the caller does not say how many it wants.
DEFAULT_ANSWER_RESERVE = 512


@dataclass(slots=True)
class Stream:
    """A started stream: the model that serves it and its events."""

    model: ModelInfo
    events: AsyncIterator[ChatDelta]


class InferenceRouter:
    def __init__(self, catalog: ModelCatalog, metrics: Metrics):
        self.catalog = catalog
        self.metrics = metrics

    async def chat(self, request: ChatRequest) -> tuple[ModelInfo, ChatResult]:
        provider, model = await self._chat_model(request.model)
        request = self._fit(provider, model, request)
        started = time.monotonic()
        try:
            result = await provider.chat(model, request)
        except HomeportError:
            self._count(model, "chat", "error")
            raise
        self._account(model, "chat", started, result.usage)
        return model, result

    async def chat_stream(self, request: ChatRequest) -> Stream:
        provider, model = await self._chat_model(request.model)
        request = self._fit(provider, model, request)
        events = provider.chat_stream(model, request)
        return Stream(model, self._observe(model, "chat", events))

    async def complete(self, request: CompletionRequest) -> tuple[ModelInfo, ChatResult]:
        provider, model = await self._chat_model(request.model)
        started = time.monotonic()
        try:
            result = await provider.complete(model, request)
        except HomeportError:
            self._count(model, "completion", "error")
            raise
        self._account(model, "completion", started, result.usage)
        return model, result

    async def complete_stream(self, request: CompletionRequest) -> Stream:
        provider, model = await self._chat_model(request.model)
        events = provider.complete_stream(model, request)
        return Stream(model, self._observe(model, "completion", events))

    async def embed(
        self, model_id: str | None, texts: list[str], *, input_type: str | None = None
    ) -> tuple[ModelInfo, EmbeddingResult]:
        provider, model = await self.catalog.resolve(model_id, purpose="embedding")
        if model.kind != "embedding":
            raise InvalidRequest(f"model '{model.id}' is not an embedding model", param="model")
        started = time.monotonic()
        try:
            result = await provider.embed(model, texts, input_type=input_type)
        except HomeportError:
            self._count(model, "embedding", "error")
            raise
        self._account(model, "embedding", started, result.usage)
        return model, result

    # -- steps ------------------------------------------------------------------------

    async def _chat_model(self, model_id: str | None) -> tuple[Provider, ModelInfo]:
        provider, model = await self.catalog.resolve(model_id)
        if model.kind == "embedding":
            raise InvalidRequest(
                f"model '{model.id}' is an embedding model; use /v1/embeddings", param="model"
            )
        return provider, model

    def _fit(self, provider: Provider, model: ModelInfo, request: ChatRequest) -> ChatRequest:
        """Trim the oldest turns when the conversation outgrows the model's context."""
        if not model.context_length:
            return request
        reserve = request.params.max_tokens or min(
            DEFAULT_ANSWER_RESERVE, model.context_length // 4
        )
        budget = model.context_length - reserve
        if budget <= 0:
            raise InvalidRequest(
                f"max_tokens={reserve} leaves no room for the conversation in model "
                f"'{model.id}' (context {model.context_length})",
                param="max_tokens",
            )
        messages = trim_to_context(
            request.messages, budget=budget, count_tokens=lambda t: provider.count_tokens(model, t)
        )
        return (
            request
            if len(messages) == len(request.messages)
            else replace(request, messages=messages)
        )

    async def _observe(
        self, model: ModelInfo, operation: str, events: AsyncIterator[ChatDelta]
    ) -> AsyncIterator[ChatDelta]:
        started = time.monotonic()
        first = True
        usage = Usage()
        outcome = "cancelled"
        try:
            async for delta in events:
                if first and (delta.content or delta.tool_calls):
                    self.metrics.time_to_first_token.labels(model.provider, model.name).observe(
                        time.monotonic() - started
                    )
                    first = False
                usage = delta.usage or usage
                yield delta
            outcome = "ok"
        except HomeportError:
            outcome = "error"
            raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            if outcome == "ok":
                self._account(model, operation, started, usage)
            else:
                self._count(model, operation, outcome)

    def _account(self, model: ModelInfo, operation: str, started: float, usage: Usage) -> None:
        self._count(model, operation, "ok")
        labels = (model.provider, model.name)
        self.metrics.inference_latency.labels(*labels, operation).observe(
            time.monotonic() - started
        )
        self.metrics.tokens.labels(*labels, "prompt").inc(usage.prompt_tokens)
        self.metrics.tokens.labels(*labels, "completion").inc(usage.completion_tokens)

    def _count(self, model: ModelInfo, operation: str, outcome: str) -> None:
        self.metrics.inference_requests.labels(model.provider, model.name, operation, outcome).inc()
