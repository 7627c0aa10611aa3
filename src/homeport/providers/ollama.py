"""Ollama through its own API (`/api/tags`, `/api/chat`, `/api/generate`, `/api/embed`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import aiohttp
import orjson

from homeport.domain.chat import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    SamplingParams,
    Usage,
)
from homeport.domain.models import ModelInfo
from homeport.errors import UpstreamError
from homeport.providers.base import ProviderBase, ProviderContext, ProviderSpec
from homeport.providers.http import UpstreamClient, parse_json

EMBEDDING_FAMILIES = ("bert", "nomic-bert")


def create(spec: ProviderSpec, context: ProviderContext) -> OllamaProvider:
    return OllamaProvider(spec, http=context.http)


class OllamaProvider(ProviderBase):
    def __init__(self, spec: ProviderSpec, *, http: aiohttp.ClientSession):
        self.name = spec.name
        self.base_url = spec.base_url.rstrip("/")
        self.models_allowed = spec.models_allowed
        self._upstream = UpstreamClient(http, self.base_url, provider=self.name)

    async def list_models(self) -> list[ModelInfo]:
        data = await self._upstream.get_json("/api/tags")
        models = []
        for entry in (data or {}).get("models") or []:
            name = str(entry.get("name") or entry.get("model") or "")
            if not name or (self.models_allowed and name not in self.models_allowed):
                continue
            family = str((entry.get("details") or {}).get("family") or "")
            embedding = "embed" in name or family in EMBEDDING_FAMILIES
            models.append(
                ModelInfo(
                    provider=self.name,
                    name=name,
                    kind="embedding" if embedding else "chat",
                    supports_tools=True,
                    owned_by="ollama",
                )
            )
        return models

    async def chat(self, model: ModelInfo, request: ChatRequest) -> ChatResult:
        data = await self._post(
            "/api/chat", self._chat_payload(model, request, stream=False), model
        )
        message = data.get("message") or {}
        tool_calls = _tool_calls(message.get("tool_calls"))
        return ChatResult(
            content=message.get("content", ""),
            tool_calls=tool_calls,
            finish_reason="tool_calls" if tool_calls else _finish(data),
            usage=_usage(data),
        )

    async def chat_stream(self, model: ModelInfo, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        payload = self._chat_payload(model, request, stream=True)
        async for event in self._lines("/api/chat", payload, model):
            message = event.get("message") or {}
            tool_calls = _tool_calls(message.get("tool_calls"))
            done = bool(event.get("done"))
            yield ChatDelta(
                content=message.get("content") or None,
                tool_calls=tool_calls,
                finish_reason=("tool_calls" if tool_calls else _finish(event)) if done else None,
                usage=_usage(event) if done else None,
            )

    async def complete(self, model: ModelInfo, request: CompletionRequest) -> ChatResult:
        data = await self._post(
            "/api/generate", self._generate_payload(model, request, False), model
        )
        return ChatResult(
            content=data.get("response", ""), finish_reason=_finish(data), usage=_usage(data)
        )

    async def complete_stream(
        self, model: ModelInfo, request: CompletionRequest
    ) -> AsyncIterator[ChatDelta]:
        payload = self._generate_payload(model, request, True)
        async for event in self._lines("/api/generate", payload, model):
            done = bool(event.get("done"))
            yield ChatDelta(
                content=event.get("response") or None,
                finish_reason=_finish(event) if done else None,
                usage=_usage(event) if done else None,
            )

    async def embed(
        self, model: ModelInfo, texts: list[str], *, input_type: str | None
    ) -> EmbeddingResult:
        data = await self._post("/api/embed", {"model": model.name, "input": texts}, model)
        vectors = data.get("embeddings") or []
        if len(vectors) != len(texts):
            raise UpstreamError(
                f"provider '{self.name}' returned {len(vectors)} embeddings for {len(texts)} inputs"
            )
        return EmbeddingResult(
            vectors=vectors, usage=Usage(prompt_tokens=int(data.get("prompt_eval_count") or 0))
        )

    def _chat_payload(
        self, model: ModelInfo, request: ChatRequest, *, stream: bool
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": model.name,
            "messages": [_message(m) for m in request.messages],
            "stream": stream,
            "options": _options(request.params),
        }
        if request.tools:
            payload["tools"] = request.tools
        fmt = request.response_format
        if fmt is not None and fmt.type != "text":
            payload["format"] = fmt.schema if fmt.schema is not None else "json"
        return payload

    def _generate_payload(
        self, model: ModelInfo, request: CompletionRequest, stream: bool
    ) -> dict[str, Any]:
        return {
            "model": model.name,
            "prompt": request.prompt,
            "raw": True,
            "stream": stream,
            "options": _options(request.params),
        }

    async def _post(self, path: str, payload: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
        return await self._upstream.post_json(path, payload, model=model.name)

    async def _lines(
        self, path: str, payload: dict[str, Any], model: ModelInfo
    ) -> AsyncIterator[dict[str, Any]]:
        """Ollama streams newline-delimited JSON objects."""
        lines = self._upstream.lines(path, payload, model=model.name)
        async with aclosing(lines):
            async for line in lines:
                event = self._upstream.event(line) if line.strip() else None
                if event is not None:
                    yield event


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.text}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "function": {
                    "name": c["function"]["name"],
                    "arguments": _arguments(c["function"].get("arguments")),
                }
            }
            for c in message.tool_calls
        ]
    return out


def _arguments(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            return parse_json(raw.encode(), provider="ollama")
        except UpstreamError:
            return {}
    return raw or {}


def _tool_calls(raw: Any) -> list[dict[str, Any]] | None:
    if not raw:
        return None
    return [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {
                "name": call.get("function", {}).get("name", ""),
                "arguments": orjson.dumps(call.get("function", {}).get("arguments", {})).decode(),
            },
        }
        for index, call in enumerate(raw)
    ]


def _options(params: SamplingParams) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if params.max_tokens is not None:
        options["num_predict"] = params.max_tokens
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed")):
        value = getattr(params, ours)
        if value is not None:
            options[theirs] = value
    if params.stop:
        options["stop"] = params.stop
    return options


def _finish(event: dict[str, Any]) -> str:
    return "length" if event.get("done_reason") == "length" else "stop"


def _usage(event: dict[str, Any]) -> Usage:
    return Usage(
        prompt_tokens=int(event.get("prompt_eval_count") or 0),
        completion_tokens=int(event.get("eval_count") or 0),
    )
