"""Domain results in OpenAI's response shapes, plus Homeport's one extension key."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np

from homeport.domain.chat import ChatDelta, ChatResult, EmbeddingResult, Usage
from homeport.domain.ids import new_id
from homeport.domain.models import ModelInfo
from homeport.errors import UnsupportedFeature


def extension(served: ModelInfo, **extra: Any) -> dict[str, Any]:
    """What OpenAI's schema has no field for, under `homeport` (SDKs ignore it)."""
    return {"model": served.id, "provider": served.provider, **extra}


def model_entry(model: ModelInfo) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": model.created,
        "owned_by": model.owned_by or model.provider,
        "homeport": {
            "kind": model.kind,
            "provider": model.provider,
            "context_length": model.context_length,
        },
    }


def chat_completion(
    model: ModelInfo, result: ChatResult, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content}
    if result.tool_calls:
        message["tool_calls"] = result.tool_calls
    return {
        "id": new_id("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model.id,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": result.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": result.usage.to_openai(),
        "homeport": extension(model, **(extra or {})),
    }


async def chat_chunks(
    model: ModelInfo,
    events: AsyncIterator[ChatDelta],
    *,
    include_usage: bool,
    extra: Mapping[str, Any] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """OpenAI `chat.completion.chunk`s; the last one before [DONE] carries `homeport`, with
    `extra` as it is once the events are over (an app's citations are known only then)."""
    base = {
        "id": new_id("chatcmpl"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model.id,
    }
    yield {
        **base,
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        ],
    }
    usage, finish = Usage(), "stop"
    async for delta in events:
        usage = delta.usage or usage
        finish = delta.finish_reason or finish
        body: dict[str, Any] = {}
        if delta.content:
            body["content"] = delta.content
        if delta.tool_calls:
            body["tool_calls"] = delta.tool_calls
        if body:
            yield {**base, "choices": [{"index": 0, "delta": body, "finish_reason": None}]}
    last = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
    ours = extension(model, **(extra or {}))
    if not include_usage:
        yield {**last, "homeport": ours}
        return
    yield last
    yield {**base, "choices": [], "usage": usage.to_openai(), "homeport": ours}


def completion(model: ModelInfo, result: ChatResult) -> dict[str, Any]:
    return {
        "id": new_id("cmpl"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model.id,
        "choices": [
            {
                "index": 0,
                "text": result.content or "",
                "finish_reason": result.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": result.usage.to_openai(),
        "homeport": extension(model),
    }


async def completion_chunks(
    model: ModelInfo, events: AsyncIterator[ChatDelta], *, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    base = {
        "id": new_id("cmpl"),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model.id,
    }
    usage, finish = Usage(), "stop"
    async for delta in events:
        usage = delta.usage or usage
        finish = delta.finish_reason or finish
        if delta.content:
            yield {
                **base,
                "choices": [
                    {"index": 0, "text": delta.content, "finish_reason": None, "logprobs": None}
                ],
            }
    last = {
        **base,
        "choices": [{"index": 0, "text": "", "finish_reason": finish, "logprobs": None}],
    }
    if include_usage:
        yield last
        yield {**base, "choices": [], "usage": usage.to_openai(), "homeport": extension(model)}
    else:
        yield {**last, "homeport": extension(model)}


def embeddings(
    model: ModelInfo, result: EmbeddingResult, *, encoding: str, dimensions: int | None
) -> dict[str, Any]:
    vectors = np.asarray(result.vectors, dtype=np.float32)
    if dimensions is not None and vectors.shape[1] != dimensions:
        raise UnsupportedFeature(
            f"model '{model.id}' makes {vectors.shape[1]}-dimensional embeddings; "
            f"dimensions={dimensions} is not supported",
            param="dimensions",
        )
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(row, encoding)}
        for i, row in enumerate(vectors)
    ]
    tokens = result.usage.prompt_tokens
    return {
        "object": "list",
        "data": data,
        "model": model.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _encode(row: np.ndarray[Any, np.dtype[np.float32]], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in row]
