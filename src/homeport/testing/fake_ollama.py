"""A scripted upstream speaking Ollama's native API over real HTTP.

::

    fake = FakeOllama()
    fake.enqueue("Hello!")
    with fake.serve() as server:
        base_url = server.url   # Ollama's API lives under /api

Routes: ``GET /api/tags``, ``GET /api/version``, ``POST /api/chat``, ``POST /api/generate`` and
``POST /api/embed``. As in real Ollama, chat and generate stream newline-delimited JSON unless
the request says ``"stream": false``. Counts are whitespace-separated words.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

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

__all__ = ["DEFAULT_OLLAMA_MODELS", "FakeOllama"]

DEFAULT_OLLAMA_MODELS = ("llama3.2:1b", "nomic-embed-text:latest")
OLLAMA_VERSION = "0.5.0"
_CREATED_AT = "1970-01-01T00:00:00Z"

_Payload = Callable[[str], dict[str, Any]]


@dataclass(frozen=True)
class _Turn:
    """One answered request: what the response lines are built from."""

    model: str
    reply: Reply
    prompt_eval_count: int

    def line(self, payload: dict[str, Any], *, done: bool) -> dict[str, Any]:
        return {"model": self.model, "created_at": _CREATED_AT, **payload, "done": done}

    def final(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.line(payload, done=True),
            "done_reason": self.reply.finish_reason or "stop",
            "total_duration": 0,
            "load_duration": 0,
            "prompt_eval_count": self.prompt_eval_count,
            "prompt_eval_duration": 0,
            "eval_count": count_words(self.reply.text),
            "eval_duration": 0,
        }


class FakeOllama(ScriptedUpstream):
    """An Ollama server whose answers a test scripts with `enqueue`."""

    def __init__(self, models: Sequence[str] = DEFAULT_OLLAMA_MODELS) -> None:
        super().__init__(models)

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/api/tags", self._tags)
        router.add_get("/api/version", self._version)
        router.add_post("/api/chat", self._chat)
        router.add_post("/api/generate", self._generate)
        router.add_post("/api/embed", self._embed)

    def knows_model(self, model: str) -> bool:
        return model in self.models or f"{model}:latest" in self.models

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [_model_entry(name) for name in self.models]})

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": OLLAMA_VERSION})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_json(request)
        model = self.require_model(body)
        messages = messages_of(body)
        reply = await self.take_reply(f"echo: {last_user_text(messages)}")
        turn = _Turn(model, reply, prompt_word_count(messages))
        if _streams(body):
            return await self._send_lines(request, _chat_lines(turn), reply)
        return web.json_response(turn.final({"message": _message(reply.text, reply)}))

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await self.read_json(request)
        model = self.require_model(body)
        prompt = body.get("prompt", "")
        if not isinstance(prompt, str):
            raise UpstreamError(400, "'prompt' must be a string")
        reply = await self.take_reply(f"echo: {prompt}")
        turn = _Turn(model, reply, count_words(prompt))
        if _streams(body):
            lines = _piece_lines(turn, lambda piece: {"response": piece})
            return await self._send_lines(request, lines, reply)
        return web.json_response(turn.final({"response": reply.text}))

    async def _embed(self, request: web.Request) -> web.Response:
        body = await self.read_json(request)
        model = self.require_model(body)
        texts = input_texts(body, "input")
        return web.json_response(
            {
                "model": model,
                "embeddings": [embed_text(text) for text in texts],
                "total_duration": 0,
                "load_duration": 0,
                "prompt_eval_count": count_words(*texts),
            }
        )

    async def _send_lines(
        self, request: web.Request, lines: list[dict[str, Any]], reply: Reply
    ) -> web.StreamResponse:
        encoded = [(json.dumps(line) + "\n").encode() for line in lines]
        return await self.stream(
            request, encoded, content_type="application/x-ndjson", token_delay=reply.token_delay
        )


def _streams(body: Mapping[str, Any]) -> bool:
    """Ollama streams unless told ``"stream": false``."""
    return body.get("stream") is not False


def _model_entry(name: str) -> dict[str, Any]:
    family = "nomic-bert" if "embed" in name else "llama"
    return {
        "name": name,
        "model": name,
        "modified_at": _CREATED_AT,
        "size": 0,
        "digest": hashlib.sha256(name.encode()).hexdigest(),
        "details": {
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": "",
            "quantization_level": "",
        },
    }


def _message(text: str, reply: Reply | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if reply is not None and reply.tool_calls:
        message["tool_calls"] = [
            {"function": {"name": call["name"], "arguments": tool_arguments(call)}}
            for call in reply.tool_calls
        ]
    return message


def _piece_lines(turn: _Turn, payload: _Payload) -> list[dict[str, Any]]:
    lines = [turn.line(payload(piece), done=False) for piece in split_words(turn.reply.text)]
    return [*lines, turn.final(payload(""))]


def _chat_lines(turn: _Turn) -> list[dict[str, Any]]:
    lines = _piece_lines(turn, lambda piece: {"message": _message(piece)})
    if turn.reply.tool_calls:
        calls = turn.line({"message": _message("", turn.reply)}, done=False)
        lines.insert(len(lines) - 1, calls)
    return lines
