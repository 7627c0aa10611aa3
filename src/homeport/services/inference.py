"""Inference for API callers: where `app/<name>` resolves to a model, and every model id to
one the caller may use.

Every request resolves its model here, among the providers the caller may use
(`ProviderAccess`): a model of a provider shared with others only is not found, exactly like
a model that does not exist. An app's request becomes its assistant's: its model (usable
through the app whatever the caller's own grants: the owner attached it), its system prompt
first, its knowledge as numbered sources, and the answer carries the app, its version and
the citations in the `homeport` extension. The router then serves the resolved model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from homeport.domain.chat import (
    ChatDelta,
    ChatRequest,
    ChatResult,
    CompletionRequest,
    EmbeddingResult,
)
from homeport.domain.models import ModelInfo, split_model_id
from homeport.domain.sessions import Citation, mark_cited
from homeport.domain.tools import ApiCall
from homeport.domain.usage import Caller
from homeport.domain.users import Principal
from homeport.providers.catalog import ModelCatalog, Visible
from homeport.providers.router import InferenceRouter, Stream
from homeport.services.limits import LimitsService
from homeport.services.sharing import ProviderAccess
from homeport.tools.fixed import ApiEnvironment
from homeport.tools.strategies import Model, ToolRun

if TYPE_CHECKING:
    from homeport.services.apps import AppService, Served
    from homeport.services.grounding import Grounder
    from homeport.services.tools import ApiToolService

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

    apps: AppService | None = None
    grounder: Grounder | None = None
    tools: ApiToolService | None = None

    async def _admit(self, principal: Principal, *, app: str | None = None) -> Caller:
        """The caller, once their quotas and rate limits let the request through (else 429)."""
        caller = Caller.of(principal, app=app)
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
        apps = await self.apps.models(principal) if self.apps is not None else []
        return self.catalog.models(visible=await self._visible(principal)) + apps

    async def get_model(self, principal: Principal, model_id: str) -> ModelInfo:
        served = await self.apps.serve(principal, model_id) if self.apps is not None else None
        if served is not None:
            return served.info
        visible = await self._visible(principal)
        _, model = await self.catalog.resolve(model_id, visible=visible)
        return model

    async def chat(
        self,
        principal: Principal,
        request: ChatRequest,
        *,
        environment: ApiEnvironment | None = None,
    ) -> tuple[ModelInfo, ChatResult]:
        """The answer; an app's API calls behave as `environment` says (its tests)."""
        served = await self.apps.serve(principal, request.model) if self.apps else None
        caller = await self._admit(principal, app=served.app.name if served else None)
        if served is None:
            request = await self._resolved(principal, request)
            return await self.router.chat(request, caller=caller)
        prepared = await self._for_app(principal, served, request)
        run = await self._tools(principal, served, prepared, caller, environment)
        if run.answer is not None:
            result = run.answer
        else:
            _, result = await self.router.chat(run.request or prepared.request, caller=caller)
        result.extension = _app_extension(served, prepared, result.content or "", run.calls)
        return served.info, result

    async def chat_stream(self, principal: Principal, request: ChatRequest) -> Stream:
        served = await self.apps.serve(principal, request.model) if self.apps else None
        caller = await self._admit(principal, app=served.app.name if served else None)
        if served is None:
            request = await self._resolved(principal, request)
            return await self.router.chat_stream(request, caller=caller)
        prepared = await self._for_app(principal, served, request)
        run = await self._tools(principal, served, prepared, caller)
        if run.answer is not None:
            source: AsyncIterator[ChatDelta] = _replayed(run.answer)
        else:
            stream = await self.router.chat_stream(run.request or prepared.request, caller=caller)
            source = stream.events
        extension: dict[str, Any] = {}
        events = _recording(source, served, prepared, run.calls, extension)
        return Stream(served.info, events, extension)

    async def _for_app(
        self, principal: Principal, served: Served, request: ChatRequest
    ) -> _Prepared:
        """The assistant's request: its model (usable through the app), prompt, knowledge."""
        request = served.prepare(request)
        visible = (
            await self.access.visible(principal, attached=[split_model_id(served.model)[0] or ""])
            if self.access is not None
            else None
        )
        _, model = await self.catalog.resolve(served.model, visible=visible)
        request = replace(request, model=model.id)
        if not served.knowledge or self.grounder is None:
            return _Prepared(request, model)
        question = next((m.text for m in reversed(request.messages) if m.role == "user"), "")
        grounding = await self.grounder.ground_bases(served.knowledge, question, principal)
        if grounding.message is not None:
            at = 1 if served.assistant.system_prompt else 0
            request = replace(
                request,
                messages=[*request.messages[:at], grounding.message, *request.messages[at:]],
            )
        return _Prepared(request, model, grounding.citations)

    async def _tools(
        self,
        principal: Principal,
        served: Served,
        prepared: _Prepared,
        caller: Caller,
        environment: ApiEnvironment | None = None,
    ) -> ToolRun:
        """The assistant's APIs at work, when it has any: the calls made, and either the
        request that answers from their data or the answer itself."""
        if self.tools is None or not self.tools.applies(served, prepared.request):
            return ToolRun(request=prepared.request)

        async def chat(request: ChatRequest) -> ChatResult:
            _, result = await self.router.chat(request, caller=caller)
            return result

        async def complete(request: CompletionRequest) -> ChatResult:
            _, result = await self.router.complete(request, caller=caller)
            return result

        info = prepared.model
        model = Model(info.id, base=info.kind == "base", chat=chat, complete=complete)
        return await self.tools.run(
            principal, served, prepared.request, model, info, environment=environment
        )

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


@dataclass(frozen=True, slots=True)
class _Prepared:
    """An app's request for its assistant's model, and the knowledge it was grounded in."""

    request: ChatRequest
    model: ModelInfo
    citations: tuple[Citation, ...] = ()


def _app_extension(
    served: Served, prepared: _Prepared, answer: str, calls: tuple[ApiCall, ...] | None = None
) -> dict[str, Any]:
    extension: dict[str, Any] = {
        "app": served.app.name,
        "app_version": served.version.number,
        "model": prepared.model.id,  # the model that answered ("default" resolved)
        "citations": [c.to_dict() for c in mark_cited(prepared.citations, answer)],
    }
    if served.assistant.apis:
        extension["api_calls"] = [c.to_dict() for c in calls or ()]
    return extension


async def _replayed(result: ChatResult) -> AsyncIterator[ChatDelta]:
    """An answer already made, as a stream."""
    if result.content:
        yield ChatDelta(content=result.content)
    yield ChatDelta(finish_reason=result.finish_reason, usage=result.usage)


async def _recording(
    events: AsyncIterator[ChatDelta],
    served: Served,
    prepared: _Prepared,
    calls: tuple[ApiCall, ...],
    extension: dict[str, Any],
) -> AsyncIterator[ChatDelta]:
    """The events, and once they end, the app's extension (citations need the answer)."""
    parts: list[str] = []
    try:
        async for delta in events:
            if delta.content:
                parts.append(delta.content)
            yield delta
    finally:
        extension.update(_app_extension(served, prepared, "".join(parts), calls))
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
