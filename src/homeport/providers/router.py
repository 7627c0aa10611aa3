"""The inference router: the one path every chat, completion and embedding request takes.

It resolves the model, fits the conversation into the model's context, calls the provider,
and accounts for what happened when the request ends: metrics (requests, latency, tokens)
and a usage record for the caller (`homeport.domain.usage.UsageSink`). Streams are wrapped
so that a consumer who stops early cancels the provider's generation, and are accounted
when they end, cancelled ones included.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    RerankResult,
    Usage,
)
from homeport.domain.context import trim_to_context
from homeport.domain.models import ModelInfo
from homeport.domain.usage import Caller, UsageRecord, UsageSink
from homeport.errors import HomeportError, InvalidRequest
from homeport.observability.metrics import Metrics
from homeport.providers.base import Provider
from homeport.providers.catalog import ModelCatalog

# Tokens kept free for the answer when the caller does not say how many it wants.
DEFAULT_ANSWER_RESERVE = 512
NOBODY = Caller()


class _Costed(Protocol):
    @property
    def usage(self) -> Usage: ...


_R = TypeVar("_R", bound=_Costed)


@dataclass(slots=True)
class Stream:
    """A started stream: the model that serves it, its events, and what the `homeport`
    extension adds (filled in by the time the events end)."""

    model: ModelInfo
    events: AsyncIterator[ChatDelta]
    extension: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Meter:
    """One request being accounted: started now, finished once, with an outcome.

    `prompt` gives the prompt's text, to estimate its tokens when the provider reports no
    usage (a cancelled stream, a stream that failed midway).
    """

    metrics: Metrics
    sink: UsageSink | None
    caller: Caller
    provider: Provider
    model: ModelInfo
    operation: str
    prompt: Callable[[], str]
    started: float = field(default_factory=time.monotonic)
    chunks: int = 0

    def first_token(self) -> None:
        self.metrics.time_to_first_token.labels(self.model.provider, self.model.name).observe(
            time.monotonic() - self.started
        )

    def finish(self, outcome: str, usage: Usage | None = None) -> None:
        """Count the request in the metrics and hand its usage record to the sink."""
        usage = usage if usage is not None else self._estimate(outcome)
        elapsed = time.monotonic() - self.started
        labels = (self.model.provider, self.model.name)
        self.metrics.inference_requests.labels(*labels, self.operation, outcome).inc()
        if outcome == "ok":
            self.metrics.inference_latency.labels(*labels, self.operation).observe(elapsed)
            self.metrics.tokens.labels(*labels, "prompt").inc(usage.prompt_tokens)
            self.metrics.tokens.labels(*labels, "completion").inc(usage.completion_tokens)
        if self.sink is not None:
            self.sink.record(self._record(outcome, usage, elapsed))

    def _estimate(self, outcome: str) -> Usage:
        if outcome == "error" and not self.chunks:
            return Usage()
        prompt = self.provider.count_tokens(self.model, self.prompt())
        return Usage(prompt_tokens=prompt, completion_tokens=self.chunks)

    def _record(self, outcome: str, usage: Usage, elapsed: float) -> UsageRecord:
        return UsageRecord(
            user_id=self.caller.user_id,
            key_id=self.caller.key_id,
            app=self.caller.app,
            provider=self.model.provider,
            model=self.model.id,
            operation=self.operation,
            outcome=outcome,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            latency_ms=round(elapsed * 1000),
            created_at=datetime.now(UTC),
        )


class InferenceRouter:
    def __init__(self, catalog: ModelCatalog, metrics: Metrics, usage: UsageSink | None = None):
        self.catalog = catalog
        self.metrics = metrics
        self.usage = usage

    async def chat(
        self, request: ChatRequest, *, caller: Caller = NOBODY
    ) -> tuple[ModelInfo, ChatResult]:
        provider, model = await self._chat_model(request.model)
        request = self._fit(provider, model, request)
        meter = self._meter(caller, provider, model, "chat", lambda: _chat_text(request))
        return model, await self._metered(meter, provider.chat(model, request))

    async def chat_stream(self, request: ChatRequest, *, caller: Caller = NOBODY) -> Stream:
        provider, model = await self._chat_model(request.model)
        request = self._fit(provider, model, request)
        meter = self._meter(caller, provider, model, "chat", lambda: _chat_text(request))
        return Stream(model, self._observe(meter, provider.chat_stream(model, request)))

    async def complete(
        self, request: CompletionRequest, *, caller: Caller = NOBODY
    ) -> tuple[ModelInfo, ChatResult]:
        provider, model = await self._chat_model(request.model)
        meter = self._meter(caller, provider, model, "completion", lambda: request.prompt)
        return model, await self._metered(meter, provider.complete(model, request))

    async def complete_stream(
        self, request: CompletionRequest, *, caller: Caller = NOBODY
    ) -> Stream:
        provider, model = await self._chat_model(request.model)
        meter = self._meter(caller, provider, model, "completion", lambda: request.prompt)
        return Stream(model, self._observe(meter, provider.complete_stream(model, request)))

    async def embed(
        self,
        model_id: str | None,
        texts: list[str],
        *,
        input_type: str | None = None,
        caller: Caller = NOBODY,
    ) -> tuple[ModelInfo, EmbeddingResult]:
        provider, model = await self.catalog.resolve(model_id, purpose="embedding")
        if model.kind != "embedding":
            raise InvalidRequest(f"model '{model.id}' is not an embedding model", param="model")
        meter = self._meter(caller, provider, model, "embedding", lambda: "\n".join(texts))
        return model, await self._metered(
            meter, provider.embed(model, texts, input_type=input_type)
        )

    async def rerank(
        self, model_id: str, query: str, documents: list[str], *, caller: Caller = NOBODY
    ) -> tuple[ModelInfo, RerankResult]:
        """Order documents by relevance to the query with a provider's rerank endpoint."""
        provider, model = await self.catalog.resolve(model_id)
        meter = self._meter(
            caller, provider, model, "rerank", lambda: "\n".join([query, *documents])
        )
        return model, await self._metered(meter, provider.rerank(model, query, documents))

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

    def _meter(
        self,
        caller: Caller,
        provider: Provider,
        model: ModelInfo,
        operation: str,
        prompt: Callable[[], str],
    ) -> _Meter:
        return _Meter(self.metrics, self.usage, caller, provider, model, operation, prompt)

    async def _metered(self, meter: _Meter, work: Awaitable[_R]) -> _R:
        try:
            result = await work
        except BaseException as exc:
            meter.finish("cancelled" if isinstance(exc, asyncio.CancelledError) else "error")
            raise
        meter.finish("ok", result.usage)
        return result

    async def _observe(
        self, meter: _Meter, events: AsyncIterator[ChatDelta]
    ) -> AsyncIterator[ChatDelta]:
        usage: Usage | None = None
        outcome = "cancelled"
        try:
            async for delta in events:
                if delta.content or delta.tool_calls:
                    meter.chunks += 1
                    if meter.chunks == 1:
                        meter.first_token()
                usage = delta.usage or usage
                yield delta
            outcome = "ok"
        except HomeportError:
            outcome = "error"
            raise
        finally:
            meter.finish(outcome, usage)
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


def _chat_text(request: ChatRequest) -> str:
    return "\n".join(message.text for message in request.messages)
