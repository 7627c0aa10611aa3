"""Chat and completion requests, results and stream events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "cancelled"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    @property
    def text(self) -> str:
        """The message's text, with content parts joined (images and audio dropped)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(str(part.get("text", "")) for part in self.content)

    def to_openai(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            message["name"] = self.name
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            message["tool_call_id"] = self.tool_call_id
        return message


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """`text`, `json_object` (any JSON, or following `schema`) or `json_schema`."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None

    def to_openai(self) -> dict[str, Any]:
        if self.type == "json_schema":
            spec: dict[str, Any] = {"name": self.name or "response", "schema": self.schema or {}}
            if self.strict is not None:
                spec["strict"] = self.strict
            return {"type": "json_schema", "json_schema": spec}
        if self.type == "json_object" and self.schema is not None:
            return {"type": "json_object", "schema": self.schema}
        return {"type": self.type}


@dataclass(slots=True)
class SamplingParams:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    # Other OpenAI parameters (presence_penalty, logit_bias, ...) forwarded as they came.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[ChatMessage]
    params: SamplingParams = field(default_factory=SamplingParams)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: ResponseFormat | None = None
    user: str | None = None


@dataclass(slots=True)
class CompletionRequest:
    model: str
    prompt: str
    params: SamplingParams = field(default_factory=SamplingParams)
    echo: bool = False
    suffix: str | None = None
    # Output constrained to JSON (a schema's), as vLLM and llama.cpp allow on completions.
    response_format: ResponseFormat | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(slots=True)
class ChatResult:
    """A whole answer: text or tool calls, why it stopped, and what it cost."""

    content: str | None
    finish_reason: str
    usage: Usage
    tool_calls: list[dict[str, Any]] | None = None
    upstream_id: str | None = None
    # What the `homeport` response extension adds (an app, its version, citations).
    extension: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ChatDelta:
    """One stream event. The last one carries `finish_reason`; `usage` may come with it."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    role: str | None = None


@dataclass(slots=True)
class EmbeddingResult:
    vectors: list[list[float]]
    usage: Usage


@dataclass(slots=True)
class RerankResult:
    """Relevance of each document to a query: (document index, score), best first."""

    ranking: list[tuple[int, float]]
    usage: Usage
