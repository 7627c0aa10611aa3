"""A scripted, OpenAI-compatible upstream served over real HTTP.

::

    fake = FakeOpenAI(api_key="sk-test")
    fake.enqueue("Hello!", Failure(429, "slow down", retry_after=1))
    with fake.serve() as server:
        base_url = server.url + "/v1"   # point Homeport (or the openai SDK) here

Routes: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions`` and
``POST /v1/embeddings``, streaming as server-sent events when ``"stream": true``. Tokens are
whitespace-separated words, ids and timestamps are fixed, so answers are deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from homeport.testing.scripting import (
    Reply,
    ScriptedUpstream,
    UpstreamError,
    count_words,
    embed_text,
    input_texts,
    last_user_text,
    messages_of,
    prompt_word_count,
    split_words,
    tool_arguments,
)

__all__ = ["DEFAULT_OPENAI_MODELS", "FakeOpenAI"]

DEFAULT_OPENAI_MODELS = ("fake-chat", "fake-embed")
_DEFAULT_CODES = {429: "rate_limit_exceeded"}


@dataclass(frozen=True)
class _Turn:
    """One answered request: what the response objects are built from."""

    id: str
    model: str
    reply: Reply
    prompt_tokens: int
    object: str

    @property
    def finish_reason(self) -> str:
        if self.reply.finish_reason is not None:
            return self.reply.finish_reason
        return "tool_calls" if self.reply.tool_calls else "stop"

    @property
    def usage(self) -> dict[str, int]:
        completion = count_words(self.reply.text)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }

    def envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": self.object,
            "created": 0,
            "model": self.model,
            "choices": choices,
        }


class FakeOpenAI(ScriptedUpstream):
    """An OpenAI-compatible upstream whose answers a test scripts with `enqueue`."""

    def __init__(
        self, models: Sequence[str] = DEFAULT_OPENAI_MODELS, api_key: str | None = None
    ) -> None:
        self.api_key = api_key
        super().__init__(models, middlewares=[self._check_auth])

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/v1/models", self._list_models)
        router.add_post("/v1/chat/completions", self._chat)
        router.add_post("/v1/completions", self._complete)
        router.add_post("/v1/embeddings", self._embed)
        router.add_post("/v1/rerank", self._rerank)

    def error_body(self, error: UpstreamError) -> dict[str, Any]:
        kind = "server_error" if error.status >= 500 else "invalid_request_error"
        return {
            "error": {
                "message": error.message,
                "type": kind,
                "param": error.param,
                "code": error.code or _DEFAULT_CODES.get(error.status),
            }
        }

    def model_not_found(self, model: str) -> UpstreamError:
        message = f"The model `{model}` does not exist or you do not have access to it."
        return UpstreamError(404, message, param="model", code="model_not_found")

    @web.middleware
    async def _check_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        expected = f"Bearer {self.api_key}"
        if self.api_key is not None and request.headers.get("Authorization") != expected:
            raise UpstreamError(401, "Incorrect API key provided.", code="invalid_api_key")
        return await handler(request)

    async def _list_models(self, request: web.Request) -> web.Response:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": "fake"}
            for model in self.models
        ]
        return web.json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_json(request)
        model = self.require_model(body)
        messages = messages_of(body)
        reply = await self.take_reply(f"echo: {last_user_text(messages)}", body)
        turn = _Turn(
            self.next_id("chatcmpl"), model, reply, prompt_word_count(messages), "chat.completion"
        )
        if body.get("stream"):
            chunks = _chat_chunks(turn, include_usage=_include_usage(body))
            return await self._send_events(request, chunks, reply)
        return web.json_response(_chat_completion(turn))

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_json(request)
        model = self.require_model(body)
        prompt = _prompt_text(body)
        reply = await self.take_reply(f"echo: {prompt}", body)
        turn = _Turn(self.next_id("cmpl"), model, reply, count_words(prompt), "text_completion")
        if body.get("stream"):
            chunks = _completion_chunks(turn, include_usage=_include_usage(body))
            return await self._send_events(request, chunks, reply)
        choice = _text_choice(reply.text, turn.finish_reason)
        return web.json_response({**turn.envelope([choice]), "usage": turn.usage})

    async def _embed(self, request: web.Request) -> web.Response:
        body = await self.read_json(request)
        model = self.require_model(body)
        texts = input_texts(body, "input")
        data = [
            {"object": "embedding", "index": index, "embedding": embed_text(text)}
            for index, text in enumerate(texts)
        ]
        tokens = count_words(*texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"object": "list", "data": data, "model": model, "usage": usage})

    async def _rerank(self, request: web.Request) -> web.Response:
        """Relevance = the share of the query's words a document contains (deterministic)."""
        body = await self.read_json(request)
        model = self.require_model(body)
        query = set(str(body.get("query", "")).lower().split())
        documents = [str(d) for d in body.get("documents") or []]
        results = [
            {"index": i, "relevance_score": len(query & set(d.lower().split())) / (len(query) or 1)}
            for i, d in enumerate(documents)
        ]
        results.sort(key=lambda r: r["relevance_score"], reverse=True)
        tokens = count_words(*documents)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"model": model, "results": results, "usage": usage})

    async def _send_events(
        self, request: web.Request, events: list[dict[str, Any]], reply: Reply
    ) -> web.StreamResponse:
        lines = [f"data: {json.dumps(event)}\n\n".encode() for event in events]
        lines.append(b"data: [DONE]\n\n")
        return await self.stream(
            request, lines, content_type="text/event-stream", token_delay=reply.token_delay
        )


def _include_usage(body: Mapping[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _prompt_text(body: Mapping[str, Any]) -> str:
    prompt = body.get("prompt", "")
    if isinstance(prompt, list) and all(isinstance(part, str) for part in prompt):
        return "\n".join(prompt)
    if not isinstance(prompt, str):
        raise UpstreamError(400, "'prompt' must be a string or a list of strings", param="prompt")
    return prompt


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(tool_arguments(call))},
        }
        for index, call in enumerate(reply.tool_calls)
    ]


def _chat_completion(turn: _Turn) -> dict[str, Any]:
    reply = turn.reply
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
    }
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": turn.finish_reason}
    return {**turn.envelope([choice]), "usage": turn.usage}


def _chat_deltas(reply: Reply) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant"}]
    deltas += [{"content": piece} for piece in split_words(reply.text)]
    for index, call in enumerate(_tool_calls(reply)):
        function = call["function"]
        opening = {**call, "index": index, "function": {"name": function["name"], "arguments": ""}}
        arguments = {"index": index, "function": {"arguments": function["arguments"]}}
        deltas += [{"tool_calls": [opening]}, {"tool_calls": [arguments]}]
    return deltas


def _chat_chunks(turn: _Turn, *, include_usage: bool) -> list[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**turn.envelope([choice]), "object": "chat.completion.chunk"}

    chunks = [chunk(delta) for delta in _chat_deltas(turn.reply)]
    chunks.append(chunk({}, turn.finish_reason))
    if include_usage:
        chunks.append({**chunk({}), "choices": [], "usage": turn.usage})
    return chunks


def _text_choice(text: str, finish_reason: str | None) -> dict[str, Any]:
    return {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}


def _completion_chunks(turn: _Turn, *, include_usage: bool) -> list[dict[str, Any]]:
    chunks = [turn.envelope([_text_choice(piece, None)]) for piece in split_words(turn.reply.text)]
    chunks.append(turn.envelope([_text_choice("", turn.finish_reason)]))
    if include_usage:
        chunks.append({**turn.envelope([]), "usage": turn.usage})
    return chunks
