"""API tools as values: the operations of an OpenAPI description, and the calls made to them.

An `ApiDescription` is what `homeport.tools.openapi` reads from a spec: every operation with
its parameters and request body as JSON Schema. An operation is offered to a model as one
tool whose arguments are a single object (`arguments_schema`): each parameter by its name,
and the JSON request body, when there is one, under `body`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ParameterLocation = Literal["path", "query", "header", "cookie"]

# Methods that only read: a call decided after API data entered the conversation must be one.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BODY_ARGUMENT = "body"


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    location: ParameterLocation
    required: bool = False
    schema: dict[str, Any] = field(default_factory=dict)  # JSON Schema
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation. `name` is its tool name: the operationId made safe for tool names
    (`[A-Za-z0-9_-]`, at most 64 characters), or one derived from method and path; unique
    within its API."""

    name: str
    method: str  # upper case
    path: str  # as the spec writes it: /jobs/{jobId}
    summary: str = ""
    description: str = ""
    parameters: tuple[Parameter, ...] = ()
    body: dict[str, Any] | None = None  # JSON Schema of the request body
    body_required: bool = False
    body_content_type: str | None = None
    response: dict[str, Any] | None = None  # JSON Schema of the successful JSON response
    tags: tuple[str, ...] = ()

    @property
    def safe(self) -> bool:
        return self.method in SAFE_METHODS

    @property
    def title(self) -> str:
        """One line saying what the operation does."""
        return self.summary or self.description.split("\n", 1)[0] or f"{self.method} {self.path}"

    def arguments_schema(self, *, fixed: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The tool's parameters: one JSON object; `fixed` parameters (set by the app) are
        left out."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for parameter in self.parameters:
            if parameter.name in fixed:
                continue
            argument = dict(parameter.schema)
            if parameter.description and "description" not in argument:
                argument["description"] = parameter.description
            properties[parameter.name] = argument
            if parameter.required:
                required.append(parameter.name)
        if self.body is not None:
            properties[BODY_ARGUMENT] = self.body
            if self.body_required:
                required.append(BODY_ARGUMENT)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema

    def text(self) -> str:
        """What relevance ranking reads: name, path, summary, description, parameter names."""
        words = [self.name, self.path, self.summary, self.description, *self.tags]
        words += [f"{p.name} {p.description or ''}" for p in self.parameters]
        return " ".join(w for w in words if w)


@dataclass(frozen=True, slots=True)
class ApiDescription:
    """An API as its spec describes it. `version` is the spec's own (`3.0.3`, `2.0`)."""

    title: str
    version: str
    servers: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()

    def operation(self, name: str) -> Operation | None:
        return next((o for o in self.operations if o.name == name), None)


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One call an assistant made, as the chat response's `homeport.api_calls` lists it and
    the call log keeps it: no bodies, no credentials."""

    api: str
    operation: str
    method: str
    status: int | None  # HTTP status; None when no response came (refused, unreachable)
    latency_ms: float
    error: str | None = None
    # The model's arguments: for the caller's own checks (evals), never logged nor sent.
    arguments: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # The response (status, body) when an eval records the live API: never logged either.
    response: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        """As the caller sees it: with the arguments, when known (never in the log)."""
        found: dict[str, Any] = {
            "api": self.api,
            "operation": self.operation,
            "method": self.method,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 1),
            "error": self.error,
        }
        if self.arguments is not None:
            found["arguments"] = self.arguments
        if self.response is not None:
            found["response"] = self.response
        return found


@dataclass(frozen=True, slots=True)
class ApiCallRecord:
    """A logged call: the call, who made it through which app, and when."""

    id: str
    at: datetime
    user_id: str | None
    app: str
    app_version: int
    call: ApiCall

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "user_id": self.user_id,
            "app": self.app,
            "app_version": self.app_version,
            **self.call.to_dict(),
        }
