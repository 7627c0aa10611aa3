"""A very fast mock OpenAI-compatible upstream, for measuring what a gateway adds.

It serves three routes with fixed, pre-encoded answers so that it is never the bottleneck:

- ``GET /v1/models``: one model, ``gpt-mock``;
- ``POST /v1/chat/completions``: a small ``chat.completion`` JSON reply, or (when the body
  says ``"stream": true``) a server-sent event stream of a role chunk, 20 content chunks, a
  finish chunk, a usage chunk and ``[DONE]``, written in one go with chunked encoding;
- anything else: 404 in OpenAI's error shape.

Two servers are built in. ``raw`` (the default) is an asyncio protocol on uvloop that parses
requests with httptools and writes the answers straight to the transport; ``aiohttp`` is
``aiohttp.web`` on uvloop. On the 2-core machine of docs/benchmarks.md, with ``wrk -t2 -c32``
on the other core, ``raw`` served ~110,000 JSON and ~105,000 streamed answers per second,
``aiohttp`` ~39,000 and ~28,000, hence the default.

``--delay-ms`` makes every answer wait (without using CPU), to stand in for an upstream whose
own latency, not its CPU, limits it. Run it as
``python bench/mock_upstream.py --port 9100 [--impl raw|aiohttp] [--delay-ms 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any, cast

import httptools
import orjson
import uvloop

MODEL = "gpt-mock"
CONTENT_CHUNKS = 20
REPLY = "Hello from the mock upstream."
STREAM_FLAG = re.compile(rb'"stream"\s*:\s*true')
CREATED = 1_700_000_000


# -- the fixed answers ----------------------------------------------------------------


def models_body() -> bytes:
    entry = {"id": MODEL, "object": "model", "created": CREATED, "owned_by": "mock"}
    return orjson.dumps({"object": "list", "data": [entry]})


def usage() -> dict[str, int]:
    return {"prompt_tokens": 12, "completion_tokens": CONTENT_CHUNKS, "total_tokens": 32}


def completion_body() -> bytes:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": REPLY},
        "finish_reason": "stop",
        "logprobs": None,
    }
    return orjson.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": CREATED,
            "model": MODEL,
            "choices": [choice],
            "usage": usage(),
        }
    )


def stream_events() -> list[bytes]:
    """The SSE events of one streamed completion, each a complete `data: ...\\n\\n`."""
    base = {
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": MODEL,
    }

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": f"tok{i} "}) for i in range(CONTENT_CHUNKS)]
    chunks += [chunk({}, "stop"), {**base, "choices": [], "usage": usage()}]
    return [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def chunked(parts: list[bytes]) -> bytes:
    """`parts` in HTTP/1.1 chunked transfer encoding, one chunk each, then the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def response(status: bytes, content_type: bytes, body: bytes, *, stream: bool = False) -> bytes:
    """A complete keep-alive HTTP/1.1 response, headers and body."""
    length = b"transfer-encoding: chunked" if stream else b"content-length: %d" % len(body)
    head = b"HTTP/1.1 %s\r\ncontent-type: %s\r\n%s\r\n\r\n" % (status, content_type, length)
    return head + body


NOT_FOUND_BODY = orjson.dumps(
    {"error": {"message": "not found", "type": "invalid_request_error", "code": "not_found"}}
)
MODELS = response(b"200 OK", b"application/json", models_body())
COMPLETION = response(b"200 OK", b"application/json", completion_body())
STREAM = response(b"200 OK", b"text/event-stream", chunked(stream_events()), stream=True)
NOT_FOUND = response(b"404 Not Found", b"application/json", NOT_FOUND_BODY)
BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def answer(method: bytes, path: bytes, body: bytes) -> bytes:
    """The pre-encoded response for one request."""
    path = path.split(b"?", 1)[0]
    if method == b"GET" and path == b"/v1/models":
        return MODELS
    if method == b"POST" and path == b"/v1/chat/completions":
        return STREAM if STREAM_FLAG.search(body) else COMPLETION
    return NOT_FOUND


# -- raw: asyncio protocol + httptools --------------------------------------------------


class RawHttpProtocol(asyncio.Protocol):
    """One connection: httptools parses, `answer` picks the bytes, the transport writes them."""

    def __init__(self, delay: float = 0.0) -> None:
        self._delay = delay
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.write(BAD_REQUEST)
            self._transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        data = answer(self._parser.get_method(), self._url, b"".join(self._body))
        keep_alive = self._parser.should_keep_alive()
        self._url, self._body = b"", []
        if self._delay:
            asyncio.get_running_loop().call_later(self._delay, self._reply, data, keep_alive)
        else:
            self._reply(data, keep_alive)

    def _reply(self, data: bytes, keep_alive: bool) -> None:
        assert self._transport is not None
        if self._transport.is_closing():
            return
        self._transport.write(data)
        if not keep_alive:
            self._transport.close()


async def serve_raw(host: str, port: int, delay: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RawHttpProtocol(delay), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


# -- aiohttp.web ----------------------------------------------------------------------


async def serve_aiohttp(host: str, port: int, delay: float) -> None:
    from aiohttp import web

    async def models(_: web.Request) -> web.Response:
        return web.Response(body=models_body(), content_type="application/json")

    events = b"".join(stream_events())
    completion = completion_body()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if delay:
            await asyncio.sleep(delay)
        if not STREAM_FLAG.search(body):
            return web.Response(body=completion, content_type="application/json")
        reply = web.StreamResponse(headers={"content-type": "text/event-stream"})
        reply.enable_chunked_encoding()
        await reply.prepare(request)
        with contextlib.suppress(ConnectionResetError):  # the client went away
            await reply.write(events)
            await reply.write_eof()
        return reply

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=1024).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


Serve = Callable[[str, int, float], Coroutine[Any, Any, None]]
SERVERS: dict[str, Serve] = {"raw": serve_raw, "aiohttp": serve_aiohttp}


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--impl", choices=sorted(SERVERS), default="raw")
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        help="answer each request this much later, like a real upstream (default: at once)",
    )
    args = parser.parse_args()
    print(f"mock upstream ({args.impl}) on http://{args.host}:{args.port}/v1", flush=True)
    started = time.monotonic()
    try:
        uvloop.run(SERVERS[args.impl](args.host, args.port, args.delay_ms / 1000))
    except KeyboardInterrupt:
        print(f"mock upstream stopped after {time.monotonic() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()
