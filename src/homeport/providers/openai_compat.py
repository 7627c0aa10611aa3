"""Any OpenAI-compatible upstream: OpenAI, Together AI, vLLM, LM Studio, llama.cpp server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    RerankResult,
    SamplingParams,
    Usage,
)
from homeport.domain.models import ModelInfo, ModelKind
from homeport.errors import UpstreamError
from homeport.providers.base import ProviderBase, ProviderContext, ProviderSpec
from homeport.providers.http import UpstreamClient

EMBEDDING_HINTS = ("embed", "bge-", "e5-", "minilm", "gte-", "nomic-embed")


def create(spec: ProviderSpec, context: ProviderContext) -> OpenAICompatProvider:
    return OpenAICompatProvider(spec, http=context.http)


def guess_kind(model_id: str, declared: dict[str, Any]) -> ModelKind:
    kind = declared.get(model_id)
    if kind in ("chat", "base", "embedding"):
        return kind  # type: ignore[no-any-return]
    lowered = model_id.lower()
    return "embedding" if any(h in lowered for h in EMBEDDING_HINTS) else "chat"


class OpenAICompatProvider(ProviderBase):
    def __init__(self, spec: ProviderSpec, *, http: aiohttp.ClientSession):
        self.name = spec.name
        self.base_url = spec.base_url.rstrip("/")
        self.models_allowed = spec.models_allowed
        self.options = spec.options
        headers = {"Authorization": f"Bearer {spec.api_key}"} if spec.api_key else {}
        self._upstream = UpstreamClient(http, self.base_url, provider=self.name, headers=headers)

    async def list_models(self) -> list[ModelInfo]:
        data = await self._upstream.get_json("/models")
        data = data if isinstance(data, dict) else {}
        declared = dict(self.options.get("model_kinds") or {})  # type: ignore[call-overload]
        context_length = self.options.get("context_length")
        models = []
        for entry in data.get("data") or []:
            model_id = str(entry.get("id", ""))
            if not model_id or (self.models_allowed and model_id not in self.models_allowed):
                continue
            models.append(
                ModelInfo(
                    provider=self.name,
                    name=model_id,
                    kind=guess_kind(model_id, declared),
                    context_length=_int(entry.get("context_length") or context_length),
                    supports_tools=True,
                    owned_by=entry.get("owned_by"),
                    created=_int(entry.get("created")) or 0,
                )
            )
        return models

    async def chat(self, model: ModelInfo, request: ChatRequest) -> ChatResult:
        payload = self._chat_payload(model, request, stream=False)
        data = await self._upstream.post_json("/chat/completions", payload, model=model.name)
        try:
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (KeyError, IndexError, TypeError) as exc:
            raise UpstreamError(f"provider '{self.name}' sent a response without choices") from exc
        return ChatResult(
            content=message.get("content"),
            tool_calls=message.get("tool_calls") or None,
            finish_reason=choice.get("finish_reason") or "stop",
            usage=_usage(data.get("usage")),
            upstream_id=data.get("id"),
        )

    async def chat_stream(self, model: ModelInfo, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        payload = self._chat_payload(model, request, stream=True)
        async for event in self._events("/chat/completions", payload, model=model.name):
            for delta in _chat_deltas(event):
                yield delta

    async def complete(self, model: ModelInfo, request: CompletionRequest) -> ChatResult:
        payload = self._completion_payload(model, request, stream=False)
        data = await self._upstream.post_json("/completions", payload, model=model.name)
        choice = (data.get("choices") or [{}])[0]
        return ChatResult(
            content=choice.get("text", ""),
            finish_reason=choice.get("finish_reason") or "stop",
            usage=_usage(data.get("usage")),
            upstream_id=data.get("id"),
        )

    async def complete_stream(
        self, model: ModelInfo, request: CompletionRequest
    ) -> AsyncIterator[ChatDelta]:
        payload = self._completion_payload(model, request, stream=True)
        async for event in self._events("/completions", payload, model=model.name):
            choice = (event.get("choices") or [None])[0]
            usage = _usage(event["usage"]) if event.get("usage") else None
            if choice is None:
                if usage:
                    yield ChatDelta(usage=usage)
                continue
            yield ChatDelta(
                content=choice.get("text") or None,
                finish_reason=choice.get("finish_reason"),
                usage=usage,
            )

    async def embed(
        self, model: ModelInfo, texts: list[str], *, input_type: str | None
    ) -> EmbeddingResult:
        payload: dict[str, Any] = {"model": model.name, "input": texts, "encoding_format": "float"}
        if input_type:
            payload["input_type"] = input_type
        data = await self._upstream.post_json("/embeddings", payload, model=model.name)
        rows = sorted(data.get("data") or [], key=lambda row: row.get("index", 0))
        if len(rows) != len(texts):
            raise UpstreamError(
                f"provider '{self.name}' returned {len(rows)} embeddings for {len(texts)} inputs"
            )
        return EmbeddingResult(
            vectors=[row["embedding"] for row in rows], usage=_usage(data.get("usage"))
        )

    async def rerank(self, model: ModelInfo, query: str, documents: list[str]) -> RerankResult:
        """`POST /rerank`, the shape llama.cpp's server and vLLM serve (Jina/Cohere style)."""
        payload = {"model": model.name, "query": query, "documents": documents}
        data = await self._upstream.post_json("/rerank", payload, model=model.name)
        try:
            ranking = [
                (int(row["index"]), float(row["relevance_score"])) for row in data["results"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError(f"provider '{self.name}' sent a malformed rerank answer") from exc
        if any(not 0 <= index < len(documents) for index, _ in ranking):
            raise UpstreamError(f"provider '{self.name}' ranked documents that were not sent")
        ranking.sort(key=lambda pair: pair[1], reverse=True)
        return RerankResult(ranking, _usage(data.get("usage")))

    # -- payloads ---------------------------------------------------------------

    def _chat_payload(
        self, model: ModelInfo, request: ChatRequest, *, stream: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            **request.params.extra,
            "model": model.name,
            "messages": [m.to_openai() for m in request.messages],
        }
        _sampling(payload, request.params)
        if request.tools:
            payload["tools"] = request.tools
        if request.tool_choice is not None:
            payload["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            payload["response_format"] = request.response_format.to_openai()
        if request.user:
            payload["user"] = request.user
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return payload

    def _completion_payload(
        self, model: ModelInfo, request: CompletionRequest, *, stream: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            **request.params.extra,
            "model": model.name,
            "prompt": request.prompt,
        }
        _sampling(payload, request.params)
        if request.echo:
            payload["echo"] = True
        if request.suffix is not None:
            payload["suffix"] = request.suffix
        if request.response_format is not None:
            payload["response_format"] = request.response_format.to_openai()
        if stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        return payload

    # -- transport --------------------------------------------------------------

    async def _events(
        self, path: str, payload: dict[str, Any], *, model: str
    ) -> AsyncIterator[dict[str, Any]]:
        """Server-sent events of a streamed response, as parsed JSON objects."""
        lines = self._upstream.lines(path, payload, model=model, accept="text/event-stream")
        async with aclosing(lines):
            async for line in lines:
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    return
                event = self._upstream.event(data)
                if event is not None:
                    yield event


def _sampling(payload: dict[str, Any], params: SamplingParams) -> None:
    for field in ("max_tokens", "temperature", "top_p", "seed"):
        value = getattr(params, field)
        if value is not None:
            payload[field] = value
    if params.stop:
        payload["stop"] = params.stop


def _chat_deltas(event: dict[str, Any]) -> list[ChatDelta]:
    usage = _usage(event["usage"]) if event.get("usage") else None
    choices = event.get("choices") or []
    if not choices:
        return [ChatDelta(usage=usage)] if usage else []
    choice = choices[0]
    delta = choice.get("delta") or {}
    return [
        ChatDelta(
            content=delta.get("content") or None,
            tool_calls=delta.get("tool_calls") or None,
            finish_reason=choice.get("finish_reason"),
            usage=usage,
            role=delta.get("role"),
        )
    ]


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")) or 0,
        completion_tokens=_int(raw.get("completion_tokens")) or 0,
    )


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
