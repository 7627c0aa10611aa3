"""The tools of one request: an assistant's APIs as named operations, called for one user.

A `Toolbox` is built for each request that reaches an app with APIs. It names every
operation once across the assistant's APIs (an operation's own name, or `<api>_<name>` when
two APIs share it), ranks them by relevance to the question (large specs offer the model a
few candidates, not hundreds), and calls them: the user's credential is asked for at call
time, each call is handed to `record` (the call log) as soon as it is made, and the calls
of the request are kept for the response's `homeport.api_calls`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from homeport.domain.tools import ApiCall, Operation
from homeport.tools.executor import ApiBinding, ApiExecutor, CallOutcome
from homeport.tools.prompts import Prompts
from homeport.tools.select import OperationIndex, words

MAX_TOOL_NAME = 64
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class NeedsConnection:
    """The user has no credential for an API that calls with the user's own."""

    api: str
    connection: str
    connect_url: str | None = None

    @property
    def message(self) -> str:
        where = f" at {self.connect_url}" if self.connect_url else ""
        return (
            f"The {self.api} API answers with your own account: connect '{self.connection}' "
            f"first{where}, then ask again."
        )


Credential = Mapping[str, str] | NeedsConnection
CredentialFor = Callable[[ApiBinding], Awaitable[Credential]]
Record = Callable[[ApiCall], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Tool:
    """An operation under the name the model calls it by."""

    name: str
    binding: ApiBinding
    operation: Operation
    prompts: Prompts

    @property
    def safe(self) -> bool:
        return self.operation.safe

    @property
    def title(self) -> str:
        return self.operation.title

    def definition(self) -> dict[str, Any]:
        """The OpenAI `tools[]` entry."""
        description = f"{self.binding.name} API: {self.operation.title}"
        if self.operation.description and self.operation.description != self.operation.title:
            description += f". {self.operation.description}"
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": description[:1024],
                "parameters": self.binding.arguments_schema(self.operation),
            },
        }


@dataclass
class Toolbox:
    tools: Sequence[Tool]
    executor: ApiExecutor
    credential_for: CredentialFor
    record: Record | None = None
    calls: list[ApiCall] = field(default_factory=list)
    # Keep each call's response with it (an eval recording the live APIs' answers).
    keep_responses: bool = False
    # Built on the first ranking that needs it; the caller may keep it for the next toolbox
    # of the same APIs (its operations are the same objects).
    index: OperationIndex | None = None

    @classmethod
    def of(
        cls,
        apis: Sequence[tuple[ApiBinding, Prompts]],
        executor: ApiExecutor,
        credential_for: CredentialFor,
        *,
        record: Record | None = None,
        keep_responses: bool = False,
    ) -> Toolbox:
        return cls(
            list(_named(apis)), executor, credential_for, record, keep_responses=keep_responses
        )

    def get(self, name: str) -> Tool | None:
        return next((t for t in self.tools if t.name == name), None)

    def rank(self, question: str, *, limit: int) -> list[Tool]:
        """The tools most relevant to `question`, best first (all of them, in order, when
        there are no more than `limit`)."""
        if len(self.tools) <= limit:
            return list(self.tools)
        return [tool for tool, _ in self.scored(question, limit=limit)]

    def scored(self, question: str, *, limit: int) -> list[tuple[Tool, float]]:
        """The `limit` tools most relevant to `question` with their BM25 scores, best
        first."""
        if self.index is None:
            self.index = OperationIndex([t.operation for t in self.tools])
        by_operation = {id(t.operation): t for t in self.tools}
        return [
            (by_operation[id(op)], score) for op, score in self.index.scored(question, limit=limit)
        ]

    @staticmethod
    def relevant(tool: Tool, question: str) -> bool:
        """Whether the question shares a word with the operation or its API's description
        (a request that shares none is not one for this operation)."""
        described = f"{tool.operation.text()} {tool.binding.name} {tool.binding.description}"
        return bool(set(words(question)) & set(words(described)))

    async def call(self, tool: Tool, arguments: Mapping[str, Any]) -> CallOutcome | NeedsConnection:
        """Call `tool` for the user; a missing credential stops the call before it is made."""
        credential = await self.credential_for(tool.binding)
        if isinstance(credential, NeedsConnection):
            await self._keep(_not_connected(tool, credential))
            return credential
        outcome = await self.executor.call(
            tool.binding, tool.operation, arguments, credential=credential
        )
        response = _response(outcome) if self.keep_responses else None
        await self._keep(replace(outcome.call, arguments=dict(arguments), response=response))
        return outcome

    async def _keep(self, call: ApiCall) -> None:
        self.calls.append(call)
        if self.record is not None:
            await self.record(call)


def _response(outcome: CallOutcome) -> dict[str, Any] | None:
    """The response as a test declares one: its status and (shaped) body."""
    if outcome.call.status is None:
        return None
    return {"status": outcome.call.status, "body": outcome.data}


def _named(apis: Sequence[tuple[ApiBinding, Prompts]]) -> list[Tool]:
    counts: dict[str, int] = {}
    for binding, _ in apis:
        for op in binding.operations:
            counts[op.name] = counts.get(op.name, 0) + 1
    tools: list[Tool] = []
    for binding, prompts in apis:
        for op in binding.operations:
            name = op.name if counts[op.name] == 1 else _tool_name(f"{binding.name}_{op.name}")
            tools.append(Tool(name, binding, op, prompts))
    return tools


def _tool_name(text: str) -> str:
    return _UNSAFE_NAME.sub("_", text)[:MAX_TOOL_NAME]


def _not_connected(tool: Tool, needs: NeedsConnection) -> ApiCall:
    return ApiCall(
        tool.binding.name,
        tool.operation.name,
        tool.operation.method,
        None,
        0.0,
        error=f"not connected: {needs.connection}",
    )
