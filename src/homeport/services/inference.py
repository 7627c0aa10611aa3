"""Inference for API callers: the seam where apps (`app/<name>`) will resolve to a model.

Every request resolves its model here, among the providers the caller may use
(`ProviderAccess`): a model of a provider shared with others only is not found, exactly like
a model that does not exist. The router then serves the resolved `provider/name`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from homeport.domain.chat import ChatRequest, ChatResult, CompletionRequest, EmbeddingResult
from homeport.domain.models import ModelInfo
from homeport.domain.usage import Caller
from homeport.domain.users import Principal
from homeport.providers.catalog import ModelCatalog, Visible
from homeport.providers.router import InferenceRouter, Stream
from homeport.services.limits import LimitsService
from homeport.services.sharing import ProviderAccess

_Request = TypeVar("_Request", ChatRequest, CompletionRequest)


class InferenceService:
    def __init__(
        self,
        router: InferenceRouter,
        catalog: ModelCatalog,
        limits: LimitsService | None = None,
        *,
        access: ProviderAccess | None = None,
    ):
        self.router = router
        self.catalog = catalog
        self.limits = limits
        self.access = access

    async def _admit(self, principal: Principal) -> Caller:
        """The caller, once their quotas and rate limits let the request through (else 429)."""
        caller = Caller.of(principal)
        if self.limits is not None:
            await self.limits.admit(caller)
        return caller

    async def _visible(self, principal: Principal) -> Visible | None:
        return await self.access.visible(principal) if self.access is not None else None

    async def _resolved(self, principal: Principal, request: _Request) -> _Request:
        """The request for the full id of its model, found among those the caller may use."""
        visible = await self._visible(principal)
        if visible is None:  # every provider: the router resolves the model as it is
            return request
        _, model = await self.catalog.resolve(request.model, visible=visible)
        return replace(request, model=model.id)

    async def list_models(self, principal: Principal) -> list[ModelInfo]:
        return self.catalog.models(visible=await self._visible(principal))

    async def get_model(self, principal: Principal, model_id: str) -> ModelInfo:
        visible = await self._visible(principal)
        _, model = await self.catalog.resolve(model_id, visible=visible)
        return model

    async def chat(
        self, principal: Principal, request: ChatRequest
    ) -> tuple[ModelInfo, ChatResult]:
        caller = await self._admit(principal)
        request = await self._resolved(principal, request)
        return await self.router.chat(request, caller=caller)

    async def chat_stream(self, principal: Principal, request: ChatRequest) -> Stream:
        caller = await self._admit(principal)
        request = await self._resolved(principal, request)
        return await self.router.chat_stream(request, caller=caller)

    async def complete(
        self, principal: Principal, request: CompletionRequest
    ) -> tuple[ModelInfo, ChatResult]:
        caller = await self._admit(principal)
        request = await self._resolved(principal, request)
        return await self.router.complete(request, caller=caller)

    async def complete_stream(self, principal: Principal, request: CompletionRequest) -> Stream:
        caller = await self._admit(principal)
        request = await self._resolved(principal, request)
        return await self.router.complete_stream(request, caller=caller)

    async def embed(
        self, principal: Principal, model: str | None, texts: list[str], *, input_type: str | None
    ) -> tuple[ModelInfo, EmbeddingResult]:
        caller = await self._admit(principal)
        visible = await self._visible(principal)
        if visible is not None:
            _, found = await self.catalog.resolve(model, purpose="embedding", visible=visible)
            model = found.id
        return await self.router.embed(model, texts, input_type=input_type, caller=caller)
