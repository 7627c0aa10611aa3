"""A stand-in for the `vllm` command, so the vLLM engine is tested without vLLM or a GPU.

::

    python -m homeport.testing.fake_vllm serve MODEL --port 8000 --served-model-name NAME
    python -m homeport.testing.fake_vllm --version

`serve` prints the log lines real vLLM prints while it starts (checkpoint shards with
tqdm's carriage returns, "Model loading took ...", "Application startup complete.") and then
serves the OpenAI API of `FakeOpenAI` plus `/health`: deterministic echo answers, streamed
with usage when asked. Other vLLM flags are accepted and ignored. Like vLLM it honours
`VLLM_API_KEY` (for everything but `/health`), answers 400 when prompt and max_tokens (in
words) exceed `--max-model-len`, and logs "Aborted request" when a client leaves a stream
early. `write_vllm_script(directory)` makes an executable `vllm` that runs this.

Flags of the fake itself:
    --fake-load-seconds S     how long "loading" takes (default 0.2)
    --fake-fail-startup       print an out-of-memory error and exit 1 while loading
    --fake-token-delay S      seconds between streamed chunks
    --fake-ignore-sigterm     only SIGKILL stops it
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from homeport.testing.fake_openai import FakeOpenAI
from homeport.testing.scripting import Reply, count_words, prompt_word_count

__all__ = ["VERSION", "FakeVllm", "main", "write_vllm_script"]

VERSION = "0.11.0-homeport-fake"
SHARDS = 2
WEIGHTS_GIB = 0.5
_GENERATING = ("/v1/chat/completions", "/v1/completions")


class FakeVllm(FakeOpenAI):
    """`FakeOpenAI` with vLLM's `/health`, its API key rule and its abort log line."""

    def __init__(
        self,
        models: Sequence[str],
        *,
        api_key: str | None = None,
        token_delay: float = 0.0,
        max_model_len: int | None = None,
    ):
        self.vllm_api_key = api_key
        self.token_delay = token_delay
        self.max_model_len = max_model_len
        super().__init__(models)

    def make_app(self) -> web.Application:
        app = super().make_app()
        app.middlewares.extend([self._vllm_auth, self._check_length, self._log_aborts])
        return app

    def add_routes(self, router: web.UrlDispatcher) -> None:
        super().add_routes(router)
        router.add_get("/health", self._health)
        router.add_get("/version", self._version)

    async def take_reply(self, default_text: str, body: Mapping[str, Any] | None = None) -> Reply:
        reply = await super().take_reply(default_text, body)
        return replace(reply, token_delay=reply.token_delay or self.token_delay)

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response()

    async def _version(self, request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION})

    @web.middleware
    async def _vllm_auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        expected = f"Bearer {self.vllm_api_key}"
        guarded = request.path.startswith("/v1")
        if self.vllm_api_key and guarded and request.headers.get("Authorization") != expected:
            return web.json_response({"error": "Unauthorized"}, status=401)
        return await handler(request)

    @web.middleware
    async def _check_length(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Like vLLM, a 400 when prompt and max_tokens exceed --max-model-len (in words)."""
        if self.max_model_len is None or request.path not in _GENERATING:
            return await handler(request)
        body = await self.read_json(request)
        prompt = body.get("prompt")
        words = count_words(prompt) if isinstance(prompt, str) else _message_words(body)
        wanted = words + int(body.get("max_tokens") or 0)
        if wanted <= self.max_model_len:
            return await handler(request)
        message = (
            f"This model's maximum context length is {self.max_model_len} tokens. "
            f"However, you requested {wanted} tokens. Please reduce the length of the input."
        )
        error = {"message": message, "type": "BadRequestError", "param": None, "code": 400}
        return web.json_response({"error": error}, status=400)

    @web.middleware
    async def _log_aborts(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        before = self.cancelled_streams
        try:
            return await handler(request)
        finally:
            if self.cancelled_streams > before:
                say(f"Aborted request {request.path}.")


def _message_words(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    return prompt_word_count(messages) if isinstance(messages, list) else 0


def write_vllm_script(directory: Path) -> Path:
    """An executable `vllm` in `directory` that runs this fake with this Python."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "vllm"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m homeport.testing.fake_vllm "$@"\n')
    script.chmod(0o755)
    return script


def say(message: str, *, level: str = "INFO", end: str = "\n") -> None:
    stamp = time.strftime("%m-%d %H:%M:%S")
    print(f"{level} {stamp} [fake_vllm.py] {message}", end=end, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_known_args(argv)[0]
    if args.version:
        print(VERSION)
        return 0
    if args.command != "serve" or not args.model:
        print("usage: vllm serve MODEL [options]", file=sys.stderr)
        return 2
    if args.fake_ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if not _load(args):
        return 1
    _serve(args)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vllm", add_help=False)
    parser.add_argument("--version", action="store_true")
    parser.add_argument("command", nargs="?")
    parser.add_argument("model", nargs="?")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--served-model-name", nargs="+")
    parser.add_argument("--max-model-len", type=int)
    parser.add_argument("--fake-load-seconds", type=float, default=0.2)
    parser.add_argument("--fake-token-delay", type=float, default=0.0)
    parser.add_argument("--fake-fail-startup", action="store_true")
    parser.add_argument("--fake-ignore-sigterm", action="store_true")
    return parser


def _load(args: argparse.Namespace) -> bool:
    """Print vLLM's start-up lines; False when told to fail."""
    say(f"vLLM API server version {VERSION}")
    say(f"Starting to load model {args.model}...")
    pause = args.fake_load_seconds / (SHARDS + 1)
    for done in range(SHARDS + 1):
        time.sleep(pause)
        bar = f"Loading safetensors checkpoint shards: {100 * done // SHARDS:3d}% Completed"
        print(f"{bar} | {done}/{SHARDS} [00:00<00:00]", end="\r", flush=True)
        if args.fake_fail_startup and done == 1:
            print(flush=True)
            say("EngineCore failed to start.", level="ERROR")
            say("torch.OutOfMemoryError: CUDA out of memory (fake).", level="ERROR")
            return False
    print(flush=True)
    say(f"Model loading took {WEIGHTS_GIB:.2f} GiB and {args.fake_load_seconds:.1f} seconds")
    say("Available KV cache memory: 1.00 GiB")
    return True


def _serve(args: argparse.Namespace) -> None:
    names = args.served_model_name or [args.model]
    fake = FakeVllm(
        names,
        api_key=os.environ.get("VLLM_API_KEY"),
        token_delay=args.fake_token_delay,
        max_model_len=args.max_model_len,
    )
    say(f"Started server process [{os.getpid()}]")

    async def started(app: web.Application) -> None:
        say("Application startup complete.")

    fake.app.on_startup.append(started)
    web.run_app(
        fake.app,
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
        shutdown_timeout=1.0,
        handle_signals=not args.fake_ignore_sigterm,
    )


if __name__ == "__main__":
    sys.exit(main())
