"""The OpenAI-compatible surface: /v1/models, chat, completions, embeddings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from homeport.api import openai_format as fmt
from homeport.api.deps import InferenceCaller, ModelsCaller, ServicesDep
from homeport.api.responses import JSONResponse
from homeport.api.schemas.openai import ChatCompletionIn, CompletionIn, EmbeddingIn
from homeport.api.sse import prefetch, sse_response

router = APIRouter(prefix="/v1", tags=["openai"])


@router.get("/models")
async def list_models(services: ServicesDep, principal: ModelsCaller) -> dict[str, Any]:
    models = await services.inference.list_models(principal)
    return {"object": "list", "data": [fmt.model_entry(m) for m in models]}


@router.get("/models/{model_id:path}")
async def get_model(
    model_id: str, services: ServicesDep, principal: ModelsCaller
) -> dict[str, Any]:
    return fmt.model_entry(await services.inference.get_model(principal, model_id))


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionIn, services: ServicesDep, principal: InferenceCaller
) -> JSONResponse | StreamingResponse:
    request = body.to_domain()
    if not body.stream:
        model, result = await services.inference.chat(principal, request)
        return JSONResponse(fmt.chat_completion(model, result, result.extension))
    stream = await services.inference.chat_stream(principal, request)
    events = await prefetch(stream.events)
    return sse_response(
        fmt.chat_chunks(
            stream.model, events, include_usage=body.include_usage, extra=stream.extension
        )
    )


@router.post("/completions", response_model=None)
async def completions(
    body: CompletionIn, services: ServicesDep, principal: InferenceCaller
) -> JSONResponse | StreamingResponse:
    request = body.to_domain()
    if not body.stream:
        model, result = await services.inference.complete(principal, request)
        return JSONResponse(fmt.completion(model, result))
    stream = await services.inference.complete_stream(principal, request)
    events = await prefetch(stream.events)
    return sse_response(
        fmt.completion_chunks(stream.model, events, include_usage=body.include_usage)
    )


@router.post("/embeddings")
async def embeddings(
    body: EmbeddingIn, services: ServicesDep, principal: InferenceCaller
) -> JSONResponse:
    model, result = await services.inference.embed(
        principal, body.model or None, body.texts, input_type=body.input_type
    )
    payload = fmt.embeddings(
        model, result, encoding=body.encoding_format, dimensions=body.dimensions
    )
    return JSONResponse(payload)
