"""API tools for apps: checked when an app is applied, run when its assistant answers.

Applying
    An API's schema given as a URL is fetched (through the SSRF guard) and stored inline,
    so a version never changes under its users. Every API must then read as OpenAPI 3.x or
    Swagger 2.0 (`homeport.tools.openapi`), name operations that exist, have a base URL,
    and have templates that parse; every problem is reported at once, naming where it is.

Answering
    A request to an assistant with APIs (and no `tools` of the client's own) gets a
    `Toolbox`: the APIs with the owner's secrets put into their fixed headers and
    parameters, and each user's own credential fetched at call time when an API calls with
    the user's rights (`auth`). A user without that credential is asked to connect, and
    nothing is called. The assistant's strategy (function calling, or the pipeline for
    models without tools) runs, and every call is logged (`api_calls`) as it is made.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from homeport.apps.base import format_path
from homeport.apps.loading import SpecInvalid, SpecProblem
from homeport.apps.spec import ApiSpec, AssistantSpec, schema_kind
from homeport.db.engine import Database
from homeport.db.repositories.api_calls import ApiCallRepository
from homeport.domain.chat import ChatRequest
from homeport.domain.models import ModelInfo
from homeport.domain.tools import ApiCall, ApiCallRecord, ApiDescription
from homeport.domain.users import Principal
from homeport.errors import HomeportError, NotFound
from homeport.outbound import OutboundClient
from homeport.services.lru import Lru
from homeport.tools.executor import ApiBinding, ApiExecutor
from homeport.tools.fixed import ApiEnvironment
from homeport.tools.openapi import SpecUnusable, parse_text, read_api
from homeport.tools.prompts import CLASSIFY, Prompts, check_template
from homeport.tools.select import OperationIndex
from homeport.tools.strategies import (
    Model,
    PipelineOptions,
    ToolRun,
    function_calling,
    pipeline,
)
from homeport.tools.toolbox import Credential, NeedsConnection, Toolbox

if TYPE_CHECKING:
    from homeport.services.apps import Served

log = logging.getLogger(__name__)

SCHEMA_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/*")
MAX_SCHEMA_BYTES = 20 * 1024 * 1024
CACHED_DESCRIPTIONS = 64
DEFAULT_HISTORY = 4

Loc = tuple[str | int, ...]


class Connections(Protocol):
    """Users' own credentials (`homeport.services.connections`)."""

    async def token_for(self, user_id: str, name: str) -> str | None: ...

    async def connect_url(self, name: str) -> str | None: ...

    async def get_provider(self, name: str) -> Any: ...


class ApiToolService:
    def __init__(
        self,
        db: Database,
        outbound: Callable[[], Awaitable[OutboundClient]],
        *,
        secrets: Any,
        connections: Connections | None = None,
        timeout: float = 20.0,
        max_bytes: int = 2 * 1024 * 1024,
    ):
        self.db = db
        # async () -> the guarded client, with the admins' allow list as it is now
        self.outbound = outbound
        self.timeout = timeout
        self.max_bytes = max_bytes
        # async (owner_id, value) -> value with `${NAME}` replaced by the owner's secrets
        self.secrets = secrets
        self.connections = connections
        self._descriptions: Lru[str, ApiDescription] = Lru(CACHED_DESCRIPTIONS)
        # By (version id, assistant): versions never change, so neither do their APIs.
        self._served: Lru[tuple[str, int, str], ApiDescription] = Lru(CACHED_DESCRIPTIONS)
        self._indexes: Lru[tuple[str, int], OperationIndex] = Lru(CACHED_DESCRIPTIONS)

    # -- applying ---------------------------------------------------------------------------

    async def prepare(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        """`spec` with URL schemas inlined, once every API in it has been checked."""
        problems: list[SpecProblem] = []
        assistants = []
        for i, assistant in enumerate(spec.get("assistants") or []):
            apis = []
            for j, api in enumerate(_list(assistant, "apis")):
                loc: Loc = ("assistants", i, "apis", j)
                checked, found = await self._prepared_api(name, api, loc)
                apis.append(checked)
                problems += found
            assistants.append({**assistant, "apis": apis} if apis else assistant)
            problems += _template_problems(f"app/{name}", assistant, ("assistants", i))
            if not problems:
                known = self._operations(apis)
                problems += _response_problems(f"app/{name}", known, assistant, i)
        if problems:
            raise SpecInvalid(problems)
        return {**spec, "assistants": assistants} if assistants else spec

    def _operations(self, apis: Sequence[dict[str, Any]]) -> dict[str, set[str]]:
        """Each checked API's operation names, by the API's name."""
        known: dict[str, set[str]] = {}
        for api in apis:
            schema = api.get("schema")
            if isinstance(schema, dict | str) and schema_kind(schema) == "inline":
                known[str(api.get("name"))] = {o.name for o in self.description(schema).operations}
        return known

    async def _prepared_api(
        self, name: str, api: dict[str, Any], loc: Loc
    ) -> tuple[dict[str, Any], list[SpecProblem]]:
        source = f"app/{name}"
        schema = api.get("schema")
        if isinstance(schema, str) and schema_kind(schema) == "url":
            try:
                schema = await self._fetch_schema(schema.strip())
            except HomeportError as exc:
                return api, [_problem(source, (*loc, "schema"), exc.message)]
            api = {**api, "schema": schema}
        spec = ApiSpec.model_validate(api)
        return api, await self._check_api(source, spec, loc)

    async def _fetch_schema(self, url: str) -> str:
        client = await self.outbound()
        fetched = await client.fetch(url, accept=SCHEMA_TYPES, max_bytes=MAX_SCHEMA_BYTES)
        return fetched.text()

    async def _check_api(self, source: str, api: ApiSpec, loc: Loc) -> list[SpecProblem]:
        if isinstance(api.api_schema, str) and schema_kind(api.api_schema) == "file":
            message = f"the schema file {api.api_schema.strip()!r} was not sent with the app"
            return [_problem(source, (*loc, "schema"), message)]
        try:
            description = self.description(api.api_schema)
        except SpecUnusable as exc:
            return [_problem(source, (*loc, "schema"), p) for p in exc.problems]
        problems = [
            _problem(source, (*loc, *where), m) for where, m in _api_problems(api, description)
        ]
        auth = api.user_auth
        if auth is not None and auth.provider and not await self._provider_exists(auth.provider):
            message = f"no OAuth provider {auth.provider!r}; an admin configures providers"
            problems.append(_problem(source, (*loc, "auth"), message))
        return problems

    async def _provider_exists(self, name: str) -> bool:
        if self.connections is None:
            return False
        try:
            await self.connections.get_provider(name)
        except NotFound:
            return False
        return True

    def description(self, schema: str | dict[str, Any]) -> ApiDescription:
        """The API a schema describes, read once per distinct schema."""
        text = schema if isinstance(schema, str) else json.dumps(schema, sort_keys=True)
        key = hashlib.sha256(text.encode()).hexdigest()
        found = self._descriptions.get(key)
        if found is None:
            document = parse_text(schema) if isinstance(schema, str) else schema
            found = self._descriptions.put(key, read_api(document))
        return found

    def _served_description(self, served: Served, api: ApiSpec) -> ApiDescription:
        key = (served.version.id, served.assistant_index, api.name)
        found = self._served.get(key)
        return (
            found if found is not None else self._served.put(key, self.description(api.api_schema))
        )

    # -- answering --------------------------------------------------------------------------

    @staticmethod
    def applies(served: Served, request: ChatRequest) -> bool:
        """Whether the assistant's APIs answer this request (a client's own tools win)."""
        return bool(served.assistant.apis) and not request.tools

    async def toolbox(
        self,
        principal: Principal,
        served: Served,
        *,
        environment: ApiEnvironment | None = None,
    ) -> Toolbox:
        """The assistant's APIs for `principal`, as `environment` says while its tests run:
        fixed responses are not logged, since nothing was called."""
        environment = environment or ApiEnvironment()
        apis = [(await self._binding(served, api), _prompts(api)) for api in served.assistant.apis]
        by_name = {api.name: api for api in served.assistant.apis}

        async def credential_for(binding: ApiBinding) -> Credential:
            return await self._credential(principal, by_name[binding.name], binding)

        async def record(call: ApiCall) -> None:
            await self._record(principal, served, call)

        executor = ApiExecutor(
            await self.outbound(),
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            fixed=environment.fixed,
        )
        toolbox = Toolbox.of(
            apis,
            executor,
            credential_for,
            record=record if environment.fixed is None else None,
            keep_responses=environment.record,
        )
        toolbox.index = self._indexes.get((served.version.id, served.assistant_index))
        return toolbox

    async def run(
        self,
        principal: Principal,
        served: Served,
        request: ChatRequest,
        model: Model,
        info: ModelInfo,
        *,
        environment: ApiEnvironment | None = None,
    ) -> ToolRun:
        """The assistant's strategy at work on `request`; `model` answers for `info`."""
        toolbox = await self.toolbox(principal, served, environment=environment)
        assistant = served.assistant
        if _strategy(assistant, info) == "function_calling":
            run = await function_calling(
                request, toolbox, model, max_steps=assistant.max_tool_steps
            )
        else:
            options = PipelineOptions(
                classify_template=assistant.is_actionable_template or CLASSIFY,
                history_length=(
                    assistant.is_actionable_history_length
                    if assistant.is_actionable_history_length is not None
                    else DEFAULT_HISTORY
                ),
            )
            run = await pipeline(request, toolbox, model, options)
        if toolbox.index is not None:  # kept for this version's next request
            self._indexes.put((served.version.id, served.assistant_index), toolbox.index)
        return replace(run, calls=tuple(toolbox.calls))

    async def _binding(self, served: Served, api: ApiSpec) -> ApiBinding:
        description = self._served_description(served, api)
        fixed = await self.secrets(
            served.app.owner_id,
            {
                "url": api.url or "",
                "headers": api.headers,
                "query": api.query,
                "path": api.path_params,
            },
        )
        wanted = set(api.operations)
        return ApiBinding(
            name=api.name,
            description=api.description or description.title,
            base_url=fixed["url"] or (description.servers[0] if description.servers else ""),
            operations=tuple(o for o in description.operations if not wanted or o.name in wanted),
            headers=fixed["headers"],
            query=fixed["query"],
            path_params=fixed["path"],
            skip_unknown_keys=api.skip_unknown_keys,
        )

    async def _credential(
        self, principal: Principal, api: ApiSpec, binding: ApiBinding
    ) -> Credential:
        auth = api.user_auth
        if auth is None:
            return {}
        name = auth.provider if auth.type == "oauth2" else auth.connection
        name = name or api.name
        token = (
            await self.connections.token_for(principal.user_id, name)
            if self.connections is not None
            else None
        )
        if token is None:
            url = await self.connections.connect_url(name) if self.connections is not None else None
            return NeedsConnection(binding.name, name, url)
        return {auth.header: f"{auth.scheme} {token}".strip()}

    async def _record(self, principal: Principal, served: Served, call: ApiCall) -> None:
        async with self.db.transaction() as session:
            await ApiCallRepository(session).add(
                call,
                user_id=principal.user_id,
                app=served.app.name,
                app_version=served.version.number,
            )

    # -- the log ----------------------------------------------------------------------------

    async def calls(
        self,
        *,
        app: str | None = None,
        user_id: str | None = None,
        before: datetime | None = None,
        limit: int = 100,
    ) -> list[ApiCallRecord]:
        """Logged calls, newest first (admins read them: the route's permission)."""
        async with self.db.transaction() as session:
            return await ApiCallRepository(session).recent(
                app=app, user_id=user_id, before=before, limit=limit
            )


def _strategy(assistant: AssistantSpec, model: ModelInfo) -> str:
    if assistant.api_strategy != "auto":
        return assistant.api_strategy
    return "function_calling" if model.supports_tools and model.kind == "chat" else "pipeline"


def _prompts(api: ApiSpec) -> Prompts:
    defaults = Prompts()
    return Prompts(
        extract=api.request_prep_template or defaults.extract,
        success=api.response_success_template or defaults.success,
        error=api.response_error_template or defaults.error,
        answer=api.response_template,
    )


def _api_problems(api: ApiSpec, description: ApiDescription) -> list[tuple[Loc, str]]:
    problems: list[tuple[Loc, str]] = []
    names = {o.name for o in description.operations}
    for k, wanted in enumerate(api.operations):
        if wanted not in names:
            known = ", ".join(sorted(names)[:20])
            problems.append(
                (("operations", k), f"the schema has no operation {wanted!r} (it has: {known})")
            )
    if not api.url and not any(s.startswith(("http://", "https://")) for s in description.servers):
        problems.append(
            (("url",), "no base URL: give url, or servers with a full URL in the schema")
        )
    templates = {
        "request_prep_template": api.request_prep_template,
        "response_success_template": api.response_success_template,
        "response_error_template": api.response_error_template,
        "response_template": api.response_template,
    }
    for key, template in templates.items():
        error = check_template(template) if template else None
        if error:
            problems.append(((key,), f"not a valid template: {error}"))
    return problems


def _response_problems(
    source: str, known: dict[str, set[str]], assistant: Any, index: int
) -> list[SpecProblem]:
    """Fixed responses a test declares must name an operation of the assistant's APIs."""
    problems = []
    everything = set().union(*known.values()) if known else set()
    for t, test in enumerate(_list(assistant, "tests")):
        for r, response in enumerate(_list(test, "api_responses")):
            api, operation = response.get("api"), response.get("operation")
            names = known.get(str(api), set()) if api else everything
            if operation in names:
                continue
            where = f"the API {api!r} has" if api else "the assistant's APIs have"
            loc: Loc = ("assistants", index, "tests", t, "api_responses", r, "operation")
            problems.append(_problem(source, loc, f"{where} no operation {operation!r}"))
    return problems


def _template_problems(source: str, assistant: Any, loc: Loc) -> list[SpecProblem]:
    template = assistant.get("is_actionable_template") if isinstance(assistant, dict) else None
    error = check_template(template) if isinstance(template, str) and template else None
    if error is None:
        return []
    return [_problem(source, (*loc, "is_actionable_template"), f"not a valid template: {error}")]


def _problem(source: str, loc: Loc, message: str) -> SpecProblem:
    return SpecProblem(source, None, None, format_path(loc), message)


def _list(data: Any, key: str) -> Sequence[dict[str, Any]]:
    value = data.get(key) if isinstance(data, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
