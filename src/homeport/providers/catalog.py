"""The model catalogue: which providers are live and which models each one serves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from homeport.domain.models import ModelInfo, ModelKind, split_model_id
from homeport.errors import HomeportError, InvalidRequest, ModelNotFound
from homeport.providers.base import Provider

log = logging.getLogger(__name__)

# A request for a model the catalogue does not know refreshes that provider at most this often.
MISS_REFRESH_SECONDS = 10.0

# Whether the caller may see the provider of this name; None: every provider.
Visible = Callable[[str], bool]


@dataclass(slots=True)
class ProviderState:
    provider: Provider
    models: dict[str, ModelInfo]
    refreshed_at: float = 0.0
    error: str | None = None


class ModelCatalog:
    def __init__(self, *, default_model: str | None = None):
        self._states: dict[str, ProviderState] = {}
        self._default_model = default_model

    # -- providers ---------------------------------------------------------------

    def add(self, provider: Provider) -> None:
        self._states[provider.name] = ProviderState(provider=provider, models={})

    async def remove(self, name: str) -> None:
        state = self._states.pop(name, None)
        if state is not None:
            await state.provider.close()

    def provider(self, name: str) -> Provider | None:
        state = self._states.get(name)
        return state.provider if state else None

    def provider_names(self) -> list[str]:
        return sorted(self._states)

    def state(self, name: str) -> ProviderState | None:
        return self._states.get(name)

    async def close(self) -> None:
        for name in list(self._states):
            await self.remove(name)

    # -- models -------------------------------------------------------------------

    async def refresh(self, name: str | None = None) -> None:
        """Ask providers for their models; one that fails keeps its last list and says why."""
        names = [name] if name else list(self._states)
        await asyncio.gather(*(self._refresh_one(n) for n in names))

    async def _refresh_one(self, name: str) -> None:
        state = self._states.get(name)
        if state is None:
            return
        state.refreshed_at = time.monotonic()
        try:
            models = await state.provider.list_models()
        except HomeportError as exc:
            state.error = exc.message
            log.warning("could not list models of provider %s: %s", name, exc.message)
            return
        state.models = {m.name: m for m in models}
        state.error = None

    def models(
        self, *, kind: ModelKind | None = None, visible: Visible | None = None
    ) -> list[ModelInfo]:
        found = [
            m
            for name, s in self._states.items()
            if visible is None or visible(name)
            for m in s.models.values()
        ]
        return sorted((m for m in found if kind is None or m.kind == kind), key=lambda m: m.id)

    async def resolve(
        self, model_id: str | None, *, purpose: ModelKind = "chat", visible: Visible | None = None
    ) -> tuple[Provider, ModelInfo]:
        """Find a model by `provider/name`, by a unique short name, or the default.

        With `visible`, providers the caller may not see do not exist: their models are not
        found, not counted when a short name is ambiguous, and never the default.
        """
        if not model_id or model_id == "default":
            model_id = self.default_model_id(purpose, visible=visible)
        provider_name, name = split_model_id(model_id)
        if provider_name in self._states and (visible is None or visible(provider_name)):
            return await self._by_full_id(provider_name, name, model_id)
        return self._by_short_name(model_id, visible)

    async def _by_full_id(
        self, provider_name: str, name: str, model_id: str
    ) -> tuple[Provider, ModelInfo]:
        state = self._states[provider_name]
        if (
            name not in state.models
            and time.monotonic() - state.refreshed_at > MISS_REFRESH_SECONDS
        ):
            await self._refresh_one(provider_name)
        model = state.models.get(name)
        if model is None:
            hint = f"(provider '{provider_name}' is failing: {state.error})" if state.error else ""
            raise ModelNotFound(model_id, hint=hint)
        return state.provider, model

    def _by_short_name(
        self, model_id: str, visible: Visible | None = None
    ) -> tuple[Provider, ModelInfo]:
        matches = [
            (s.provider, s.models[model_id])
            for name, s in self._states.items()
            if model_id in s.models and (visible is None or visible(name))
        ]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise ModelNotFound(model_id, hint="List the models with GET /v1/models.")
        choices = ", ".join(m.id for _, m in matches)
        raise InvalidRequest(
            f"the model name '{model_id}' is ambiguous; use one of: {choices}",
            param="model",
            code="model_ambiguous",
        )

    def default_model_id(
        self, purpose: ModelKind = "chat", *, visible: Visible | None = None
    ) -> str:
        """HOMEPORT_DEFAULT_MODEL, else a provider's chat model, else the embedded one."""
        if purpose != "embedding" and self._default_model:
            return self._default_model
        candidates = (
            self.models(kind="embedding", visible=visible)
            if purpose == "embedding"
            else (
                self.models(kind="chat", visible=visible)
                + self.models(kind="base", visible=visible)
            )
        )
        if not candidates:
            raise ModelNotFound("default", hint="No model is available: add a provider.")
        # Prefer a configured provider's model over the embedded one.
        candidates.sort(key=lambda m: (m.provider == "local", m.kind != "chat"))
        return candidates[0].id
