"""Inference for API callers: the seam where apps (`app/<name>`) will resolve to a model."""

from __future__ import annotations

from homeport.domain.chat import ChatRequest, ChatResult, CompletionRequest, EmbeddingResult
from homeport.domain.models import ModelInfo
from homeport.domain.users import Principal
from homeport.providers.catalog import ModelCatalog
from homeport.providers.router import InferenceRouter, Stream


class InferenceService:
    def __init__(self, router: InferenceRouter, catalog: ModelCatalog):
        self.router = router
        self.catalog = catalog

    def list_models(self, principal: Principal) -> list[ModelInfo]:
        return self.catalog.models()

    async def get_model(self, principal: Principal, model_id: str) -> ModelInfo:
        _, model = await self.catalog.resolve(model_id)
        return model

    async def chat(
        self, principal: Principal, request: ChatRequest
    ) -> tuple[ModelInfo, ChatResult]:
        return await self.router.chat(request)

    async def chat_stream(self, principal: Principal, request: ChatRequest) -> Stream:
        return await self.router.chat_stream(request)

    async def complete(
        self, principal: Principal, request: CompletionRequest
    ) -> tuple[ModelInfo, ChatResult]:
        return await self.router.complete(request)

    async def complete_stream(self, principal: Principal, request: CompletionRequest) -> Stream:
        return await self.router.complete_stream(request)

    async def embed(
        self, principal: Principal, model: str | None, texts: list[str], *, input_type: str | None
    ) -> tuple[ModelInfo, EmbeddingResult]:
        return await self.router.embed(model, texts, input_type=input_type)
