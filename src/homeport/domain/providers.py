"""Provider connections as configured by admins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ProviderKind = Literal["openai", "ollama"]
RESERVED_PROVIDER_NAMES = frozenset({"local", "app"})


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """A stored provider. The key is decrypted only when a client is built."""

    id: str
    name: str
    kind: ProviderKind
    base_url: str
    has_api_key: bool
    models_allowed: tuple[str, ...] | None
    source: str
    created_at: datetime
    updated_at: datetime
    options: dict[str, Any] = field(default_factory=dict)
