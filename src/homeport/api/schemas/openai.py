"""OpenAI-compatible request bodies. Unknown fields are accepted, logged, and forwarded."""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from homeport.domain.chat import (
    ChatMessage,
    ChatRequest,
    CompletionRequest,
    ResponseFormat,
    SamplingParams,
)
from homeport.errors import UnsupportedFeature, ValidationFailed

log = logging.getLogger(__name__)

# Parameters that upstream providers understand and Homeport passes through untouched.
FORWARDED = (
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "parallel_tool_calls",
    "reasoning_effort",
    "metadata",
    "service_tier",
    "store",
    "modalities",
    "prediction",
    "max_completion_tokens",
)
MAX_STOP_SEQUENCES = 4


class OpenAIModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    def forwarded(self) -> dict[str, Any]:
        extra = dict(self.model_extra or {})
        known = {k: v for k, v in extra.items() if k in FORWARDED and v is not None}
        ignored = sorted(set(extra) - set(known))
        if ignored:
            log.info("ignoring unknown request fields: %s", ", ".join(ignored))
        return known


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None

    def to_domain(self) -> ChatMessage:
        return ChatMessage(
            role=self.role,
            content=self.content,
            name=self.name,
            tool_calls=self.tool_calls,
            tool_call_id=self.tool_call_id,
        )


class StreamOptions(BaseModel):
    include_usage: bool = False


class JsonSchemaSpec(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str = "response"
    description: str | None = None
    json_schema: dict[str, Any] = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormatIn(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None
    # llama.cpp's extension: {"type": "json_object", "schema": {...}}
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    @model_validator(mode="after")
    def _schema_present(self) -> ResponseFormatIn:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format.json_schema is required when type is json_schema")
        return self

    def to_domain(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is not None:
            spec = self.json_schema
            return ResponseFormat("json_schema", spec.json_schema, spec.name, spec.strict)
        return ResponseFormat(self.type, self.schema_)


def _stop_list(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if len(stops) > MAX_STOP_SEQUENCES:
        raise ValidationFailed(f"at most {MAX_STOP_SEQUENCES} stop sequences", param="stop")
    return stops


class SamplingFields(OpenAIModel):
    model: str = ""
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None

    def sampling(self) -> SamplingParams:
        if self.n not in (None, 1):
            raise UnsupportedFeature("only n=1 is supported", param="n")
        extra = self.forwarded()
        max_tokens = self.max_tokens or extra.pop("max_completion_tokens", None)
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=_stop_list(self.stop),
            seed=self.seed,
            extra=extra,
        )

    @property
    def include_usage(self) -> bool:
        return bool(self.stream and self.stream_options and self.stream_options.include_usage)


class ChatCompletionIn(SamplingFields):
    messages: list[Message] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: ResponseFormatIn | None = None

    def to_domain(self) -> ChatRequest:
        return ChatRequest(
            model=self.model,
            messages=[m.to_domain() for m in self.messages],
            params=self.sampling(),
            tools=self.tools or None,
            tool_choice=self.tool_choice,
            response_format=self.response_format.to_domain() if self.response_format else None,
            user=self.user,
        )


class CompletionIn(SamplingFields):
    prompt: str | list[str]
    echo: bool = False
    suffix: str | None = None
    # Not in OpenAI's completions API; vLLM and llama.cpp's server take it the same way.
    response_format: ResponseFormatIn | None = None

    @field_validator("prompt")
    @classmethod
    def _one_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError("exactly one prompt is supported")
        return value

    def to_domain(self) -> CompletionRequest:
        prompt = self.prompt if isinstance(self.prompt, str) else self.prompt[0]
        return CompletionRequest(
            model=self.model,
            prompt=prompt,
            params=self.sampling(),
            echo=self.echo,
            suffix=self.suffix,
            response_format=self.response_format.to_domain() if self.response_format else None,
        )


MAX_EMBEDDING_INPUTS = 2048


class EmbeddingIn(OpenAIModel):
    model: str = ""
    input: str | list[str]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)
    input_type: Literal["query", "passage"] | None = None
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _inputs(cls, value: str | list[str]) -> str | list[str]:
        items = [value] if isinstance(value, str) else value
        if not items:
            raise ValueError("input must not be empty")
        if len(items) > MAX_EMBEDDING_INPUTS:
            raise ValueError(f"at most {MAX_EMBEDDING_INPUTS} inputs per request")
        if any(not item for item in items):
            raise ValueError("inputs must not be empty strings")
        return value

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
