"""Server-sent events: encoding, and starting a stream only once its first event is in.

Waiting for the first event means an error that happens before any output (an unknown
upstream model, an unreachable provider) is still answered with a proper status code.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi.responses import StreamingResponse

from homeport.api.errors import error_payload
from homeport.errors import HomeportError

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE = b"data: [DONE]\n\n"
# Encoded events a stream may hold for a client that reads slowly.
QUEUE_SIZE = 64


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
    """Each chunk as an event; an error mid-stream as an error event; then [DONE].

    A producer task encodes events as they come; the response sends everything that is
    ready in one write. Tokens that arrive together (a fast upstream, a burst after a
    pause) then cost one socket write instead of one each; a slow stream is unchanged.
    The queue is bounded, so a slow client holds the producer back.
    """
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=QUEUE_SIZE)
    producer = asyncio.create_task(_produce(chunks, queue))
    try:
        while (item := await queue.get()) is not None:
            ready = [item]
            while not queue.empty() and (item := queue.get_nowait()) is not None:
                ready.append(item)
            yield b"".join(ready)
            if item is None:
                return
    finally:
        producer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await producer


async def _produce(
    chunks: AsyncIterator[dict[str, Any]], queue: asyncio.Queue[bytes | None]
) -> None:
    try:
        async for chunk in chunks:
            await queue.put(event(chunk))
        await queue.put(DONE)
    except HomeportError as exc:
        await queue.put(event(error_payload(exc)[1]))
    finally:
        aclose: Callable[[], Any] | None = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    await queue.put(None)


def sse_response(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    return StreamingResponse(encode(chunks), media_type="text/event-stream", headers=SSE_HEADERS)
