"""The provider protocol and the registry of provider kinds.

A provider kind is a factory registered by name; built-in kinds register exactly the way a
plugin's would (`register_kind`). Heavy imports happen inside the factories.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
    RerankResult,
)
from homeport.domain.models import ModelInfo
from homeport.errors import UnsupportedFeature

if TYPE_CHECKING:
    import aiohttp

    from homeport.settings import Settings


@runtime_checkable
class Provider(Protocol):
    """Serves models. Methods a provider cannot do raise `UnsupportedFeature`."""

    name: str

    async def list_models(self) -> list[ModelInfo]: ...

    async def chat(self, model: ModelInfo, request: ChatRequest) -> ChatResult: ...

    def chat_stream(self, model: ModelInfo, request: ChatRequest) -> AsyncIterator[ChatDelta]: ...

    async def complete(self, model: ModelInfo, request: CompletionRequest) -> ChatResult: ...

    def complete_stream(
        self, model: ModelInfo, request: CompletionRequest
    ) -> AsyncIterator[ChatDelta]: ...

    async def embed(
        self, model: ModelInfo, texts: list[str], *, input_type: str | None
    ) -> EmbeddingResult: ...

    async def rerank(self, model: ModelInfo, query: str, documents: list[str]) -> RerankResult: ...

    def count_tokens(self, model: ModelInfo, text: str) -> int: ...

    async def close(self) -> None: ...


def approximate_tokens(text: str) -> int:
    """A cautious estimate for providers that do not tokenize for us (~3.5 chars a token)."""
    return max(1, (len(text) * 2 + 6) // 7)


class ProviderBase:
    """Defaults for the optional parts of the protocol."""

    name: str

    async def complete(self, model: ModelInfo, request: CompletionRequest) -> ChatResult:
        raise UnsupportedFeature(f"provider '{self.name}' does not serve plain completions")

    def complete_stream(
        self, model: ModelInfo, request: CompletionRequest
    ) -> AsyncIterator[ChatDelta]:
        raise UnsupportedFeature(f"provider '{self.name}' does not serve plain completions")

    async def embed(
        self, model: ModelInfo, texts: list[str], *, input_type: str | None
    ) -> EmbeddingResult:
        raise UnsupportedFeature(f"provider '{self.name}' does not serve embeddings")

    async def rerank(self, model: ModelInfo, query: str, documents: list[str]) -> RerankResult:
        raise UnsupportedFeature(f"provider '{self.name}' has no rerank endpoint")

    def count_tokens(self, model: ModelInfo, text: str) -> int:
        return approximate_tokens(text)

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """What a factory needs to build a provider from a stored connection."""

    name: str
    base_url: str
    api_key: str | None
    models_allowed: tuple[str, ...] | None
    options: dict[str, object]


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """Shared resources handed to every factory."""

    http: aiohttp.ClientSession
    settings: Settings


ProviderFactory = Callable[[ProviderSpec, ProviderContext], Provider]

_KINDS: dict[str, ProviderFactory] = {}


def register_kind(kind: str, factory: ProviderFactory) -> None:
    _KINDS[kind] = factory


def provider_kinds() -> list[str]:
    _register_builtins()
    return sorted(_KINDS)


def build_provider(kind: str, spec: ProviderSpec, context: ProviderContext) -> Provider:
    _register_builtins()
    try:
        factory = _KINDS[kind]
    except KeyError:
        raise UnsupportedFeature(
            f"unknown provider kind '{kind}'; known kinds: {', '.join(sorted(_KINDS))}",
            param="kind",
        ) from None
    return factory(spec, context)


def _register_builtins() -> None:
    if "openai" in _KINDS and "ollama" in _KINDS:
        return
    from homeport.providers import ollama, openai_compat

    _KINDS.setdefault("openai", openai_compat.create)
    _KINDS.setdefault("ollama", ollama.create)
