"""Scripted replies and request recording shared by the fake upstream servers.

A test queues what the upstream should answer next, in order::

    fake.enqueue("Hello there")                                   # plain text
    fake.enqueue(Reply(tool_calls=[{"name": "add", "arguments": {"a": 1}}]))
    fake.enqueue(Failure(429, "slow down", retry_after=3))         # an HTTP error
    fake.enqueue(Disconnect())                                     # drop the connection

Each chat or completion request consumes one entry; with the queue empty the fake echoes the
last user message. Every request is recorded (`requests`), and streams that the client
abandoned are counted (`cancelled_streams`). The counters are read from the test thread while
the server runs in its own thread, so all state sits behind one lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from homeport.testing.servers import BackgroundServer

__all__ = [
    "EMBEDDING_DIMENSIONS",
    "Disconnect",
    "Failure",
    "RecordedRequest",
    "Reply",
    "Scripted",
    "ScriptedUpstream",
    "UpstreamError",
    "content_text",
    "count_words",
    "embed_text",
    "input_texts",
    "last_user_text",
    "messages_of",
    "prompt_word_count",
    "split_words",
    "tool_arguments",
]

EMBEDDING_DIMENSIONS = 8


@dataclass(frozen=True)
class Reply:
    """A successful answer: text and/or tool calls (``{"name": ..., "arguments": {...}}``).

    `delay` is slept before answering, `token_delay` between streamed chunks.
    """

    text: str = ""
    tool_calls: Sequence[Mapping[str, Any]] = ()
    finish_reason: str | None = None
    delay: float = 0.0
    token_delay: float = 0.0


@dataclass(frozen=True)
class Failure:
    """Answer with this HTTP status and the fake's error JSON (plus ``Retry-After`` if set)."""

    status: int
    message: str
    retry_after: int | None = None


@dataclass(frozen=True)
class Disconnect:
    """Abort the connection without sending any response."""


Scripted: TypeAlias = str | Reply | Failure | Disconnect


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any


class UpstreamError(Exception):
    """Raised inside a fake's handler; rendered as that fake's error JSON."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after


class _DisconnectRequested(Exception):
    """Raised when the script says `Disconnect()`; the connection is aborted."""


def split_words(text: str) -> list[str]:
    """Split text into streamable pieces whose concatenation is exactly `text`."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[sum(map(len, pieces)) :]
    if tail:
        pieces = [*pieces[:-1], pieces[-1] + tail] if pieces else [tail]
    return pieces


def count_words(*texts: str) -> int:
    """The fakes' token count: whitespace-separated words."""
    return sum(len(text.split()) for text in texts)


def embed_text(text: str) -> list[float]:
    """A deterministic unit vector of `EMBEDDING_DIMENSIONS` floats derived from a hash."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [
        int.from_bytes(digest[2 * i : 2 * i + 2], "big", signed=True)
        for i in range(EMBEDDING_DIMENSIONS)
    ]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]


def content_text(content: Any) -> str:
    """The text of a chat message's content: a string, a list of parts, or null."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def messages_of(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The request's chat messages (a 400 if `messages` is not a list)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise UpstreamError(400, "'messages' must be a list", param="messages")
    return [message for message in messages if isinstance(message, dict)]


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last user message, or "" if there is none."""
    users = [message for message in messages if message.get("role") == "user"]
    return content_text(users[-1].get("content")) if users else ""


def prompt_word_count(messages: Sequence[Mapping[str, Any]]) -> int:
    """The fakes' prompt token count: words over all message contents."""
    return count_words(*(content_text(message.get("content")) for message in messages))


def tool_arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    """A scripted tool call's arguments as a dict (they may be given as a JSON string)."""
    arguments = call.get("arguments", {})
    parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    return dict(parsed)


def input_texts(body: Mapping[str, Any], field: str) -> list[str]:
    """An embeddings input: one string or a list of strings."""
    value = body.get(field)
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise UpstreamError(400, f"'{field}' must be a string or a list of strings", param=field)
    return texts


class ScriptedUpstream:
    """Base class of the fakes: the reply queue, the recording and the HTTP plumbing."""

    def __init__(self, models: Iterable[str], *, middlewares: Iterable[Middleware] = ()) -> None:
        self.models: tuple[str, ...] = tuple(models)
        self._lock = threading.Lock()
        self._queue: deque[Scripted] = deque()
        self._requests: list[RecordedRequest] = []
        self._cancelled_streams = 0
        self._active_streams = 0
        self._ids = 0
        self._middlewares = tuple(middlewares)
        # With the queue empty: the reply to a request's JSON body, when set (else an echo).
        self.responder: Callable[[Mapping[str, Any]], Scripted] | None = None
        self.app = self.make_app()

    # -- scripting -----------------------------------------------------------------------

    def enqueue(self, *replies: Scripted) -> None:
        """Queue replies; each chat or completion request consumes the oldest one."""
        with self._lock:
            self._queue.extend(replies)

    def json_reply(self, obj: Any) -> None:
        """Queue a text reply holding `obj` encoded as JSON."""
        self.enqueue(json.dumps(obj))

    async def take_reply(self, default_text: str, body: Mapping[str, Any] | None = None) -> Reply:
        """The next scripted reply (else the responder's for `body`, else `default_text`),
        after its delay.

        A scripted `Failure` or `Disconnect` is raised and answered by the middleware.
        """
        with self._lock:
            queued = self._queue.popleft() if self._queue else None
        if queued is not None:
            scripted = queued
        elif self.responder is not None and body is not None:
            scripted = self.responder(body)
        else:
            scripted = default_text
        if isinstance(scripted, Failure):
            raise UpstreamError(scripted.status, scripted.message, retry_after=scripted.retry_after)
        if isinstance(scripted, Disconnect):
            raise _DisconnectRequested
        reply = Reply(text=scripted) if isinstance(scripted, str) else scripted
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return reply

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._ids += 1
            return f"{prefix}-fake-{self._ids}"

    # -- what a test reads -----------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def cancelled_streams(self) -> int:
        """Streams whose client went away (or that were cancelled) before they finished."""
        with self._lock:
            return self._cancelled_streams

    @property
    def active_streams(self) -> int:
        """Streams being written right now."""
        with self._lock:
            return self._active_streams

    # -- serving ---------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """A fresh application with this fake's routes, sharing its script and recording."""
        app = web.Application(middlewares=[self._record, self._render_errors, *self._middlewares])
        self.add_routes(app.router)
        return app

    def add_routes(self, router: web.UrlDispatcher) -> None:
        """Register the fake's routes; each fake overrides this."""

    def serve(self, *, port: int = 0) -> BackgroundServer:
        """Serve `app` on a local port (0: a free one); stop it with ``server.stop()``.

        Serving again (say, after a simulated outage) uses a fresh app, because an aiohttp
        application cannot run twice; the script and the recording carry on.
        """
        app = self.make_app() if self.app.frozen else self.app
        return BackgroundServer(app, port=port).start()

    # -- for the fakes' handlers -------------------------------------------------------------

    async def read_json(self, request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.read())
        except ValueError as exc:
            raise UpstreamError(400, f"could not parse the JSON body: {exc}") from exc
        if not isinstance(body, dict):
            raise UpstreamError(400, "the request body must be a JSON object")
        return body

    def require_model(self, body: Mapping[str, Any]) -> str:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise UpstreamError(400, "you must provide a model parameter", param="model")
        if not self.knows_model(model):
            raise self.model_not_found(model)
        return model

    def knows_model(self, model: str) -> bool:
        return model in self.models

    def model_not_found(self, model: str) -> UpstreamError:
        return UpstreamError(404, f"model '{model}' not found", code="model_not_found")

    def error_body(self, error: UpstreamError) -> dict[str, Any]:
        """The JSON body of an error response; each fake speaks its provider's dialect."""
        return {"error": error.message}

    async def stream(
        self,
        request: web.Request,
        chunks: Sequence[bytes],
        *,
        content_type: str,
        token_delay: float = 0.0,
    ) -> web.StreamResponse:
        """Write `chunks` one by one, counting the stream as cancelled if the client leaves."""
        response = web.StreamResponse(
            headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
        )
        with self._streaming():
            try:
                await response.prepare(request)
                for index, chunk in enumerate(chunks):
                    if index and token_delay:
                        await asyncio.sleep(token_delay)
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:
                self._count_cancelled()
            except asyncio.CancelledError:
                self._count_cancelled()
                raise
        return response

    # -- internals ---------------------------------------------------------------------------

    @contextmanager
    def _streaming(self) -> Iterator[None]:
        with self._lock:
            self._active_streams += 1
        try:
            yield
        finally:
            with self._lock:
                self._active_streams -= 1

    def _count_cancelled(self) -> None:
        with self._lock:
            self._cancelled_streams += 1

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in request.headers.items()}
        with self._lock:
            self._requests.append(RecordedRequest(request.method, request.path, headers, body))
        return await handler(request)

    @web.middleware
    async def _render_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except UpstreamError as error:
            return self._error_response(error)
        except _DisconnectRequested:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return self._error_response(UpstreamError(exc.status, exc.reason))

    def _error_response(self, error: UpstreamError) -> web.Response:
        headers = {} if error.retry_after is None else {"Retry-After": str(error.retry_after)}
        return web.json_response(self.error_body(error), status=error.status, headers=headers)
