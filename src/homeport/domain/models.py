"""What the model catalogue knows about a model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ModelKind = Literal["chat", "base", "embedding"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider serves. `id` is `<provider>/<name>`; `name` is the upstream id."""

    provider: str
    name: str
    kind: ModelKind = "chat"
    context_length: int | None = None
    supports_tools: bool = False
    owned_by: str | None = None
    created: int = 0

    @property
    def id(self) -> str:
        return f"{self.provider}/{self.name}"


def split_model_id(model_id: str) -> tuple[str | None, str]:
    """`provider/model` at the first slash; the upstream part may contain more slashes."""
    provider, sep, name = model_id.partition("/")
    if not sep:
        return None, model_id
    return provider, name
