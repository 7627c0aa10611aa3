"""Server-sent events: encoding, and starting a stream only once its first event is in.

Waiting for the first event means an error that happens before any output (an unknown
upstream model, an unreachable provider) is still answered with a proper status code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi.responses import StreamingResponse

from homeport.api.errors import error_payload
from homeport.errors import HomeportError

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"


def event(data: Any) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


async def prefetch(events: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Pull the first event now (raising any early error), then yield everything."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return _empty()
    return _chain(first, events)


async def _empty() -> AsyncIterator[Any]:
    return
    yield


async def _chain(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        yield first
        async for item in rest:
            yield item
    finally:
        aclose: Callable[[], Any] | None = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()


async def encode(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Each chunk as an event; an error mid-stream as an error event; then [DONE]."""
    try:
        async for chunk in chunks:
            yield event(chunk)
    except HomeportError as exc:
        yield event(error_payload(exc)[1])
        return
    yield DONE


def sse_response(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    return StreamingResponse(encode(chunks), media_type="text/event-stream", headers=SSE_HEADERS)
