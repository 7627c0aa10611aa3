"""The runner protocol: JSON messages between a runner and the control plane.

A runner dials out (a WebSocket, or an in-memory pair for the runner inside `homeport
serve`) and says `hello`; the control plane answers `welcome`. After that either side sends
at any time:

    control plane -> runner            runner -> control plane
    load     {instance, model}         load_progress {instance, message, fraction}
    unload   {instance}                loaded        {instance, memory_bytes}
    chat     {id, instance, request}   load_failed   {instance, error}
    complete {id, instance, request}   unloaded      {instance}
    embed    {id, instance, texts,     delta         {id, delta}
              input_type}              result        {id, result}
    cancel   {id}                      end           {id}
                                       error         {id, error}
                                       heartbeat     {hardware, instances}

Requests are multiplexed by `id`; each ends with `end` or `error`. Everything that crosses is
built and read here, so the two ends cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import orjson

from homeport import errors
from homeport.domain.chat import (
    ChatDelta,
    ChatMessage,
    ChatRequest,
    CompletionRequest,
    EmbeddingResult,
    ResponseFormat,
    SamplingParams,
    Usage,
)

PROTOCOL_VERSION = 1
Message = dict[str, Any]

# WebSocket close codes the control plane uses.
CLOSE_UNAUTHORIZED = 4401
CLOSE_REPLACED = 4409
CLOSE_PROTOCOL = 4400


def encode(message: Message) -> bytes:
    return orjson.dumps(message)


def decode(data: bytes | str) -> Message:
    message = orjson.loads(data)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise errors.InvalidRequest("a runner message must be a JSON object with a 'type'")
    return message


# -- requests ------------------------------------------------------------------------------


def params_to_wire(params: SamplingParams) -> dict[str, Any]:
    return {
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "stop": params.stop,
        "seed": params.seed,
        "extra": params.extra,
    }


def params_from_wire(data: dict[str, Any]) -> SamplingParams:
    return SamplingParams(
        max_tokens=data.get("max_tokens"),
        temperature=data.get("temperature"),
        top_p=data.get("top_p"),
        stop=list(data.get("stop") or []),
        seed=data.get("seed"),
        extra=dict(data.get("extra") or {}),
    )


def _format_to_wire(fmt: ResponseFormat | None) -> dict[str, Any] | None:
    if fmt is None:
        return None
    return {"type": fmt.type, "schema": fmt.schema, "name": fmt.name, "strict": fmt.strict}


def _format_from_wire(data: Any) -> ResponseFormat | None:
    return None if data is None else ResponseFormat(**data)


def chat_request_to_wire(request: ChatRequest) -> dict[str, Any]:
    return {
        "model": request.model,
        "messages": [m.to_openai() for m in request.messages],
        "params": params_to_wire(request.params),
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "response_format": _format_to_wire(request.response_format),
        "user": request.user,
    }


def chat_request_from_wire(data: dict[str, Any]) -> ChatRequest:
    return ChatRequest(
        model=str(data.get("model") or ""),
        messages=[
            ChatMessage(
                role=m["role"],
                content=m.get("content"),
                name=m.get("name"),
                tool_calls=m.get("tool_calls"),
                tool_call_id=m.get("tool_call_id"),
            )
            for m in data.get("messages") or []
        ],
        params=params_from_wire(data.get("params") or {}),
        tools=data.get("tools"),
        tool_choice=data.get("tool_choice"),
        response_format=_format_from_wire(data.get("response_format")),
        user=data.get("user"),
    )


def completion_request_to_wire(request: CompletionRequest) -> dict[str, Any]:
    return {
        "model": request.model,
        "prompt": request.prompt,
        "params": params_to_wire(request.params),
        "echo": request.echo,
        "suffix": request.suffix,
        "response_format": _format_to_wire(request.response_format),
    }


def completion_request_from_wire(data: dict[str, Any]) -> CompletionRequest:
    return CompletionRequest(
        model=str(data.get("model") or ""),
        prompt=str(data.get("prompt") or ""),
        params=params_from_wire(data.get("params") or {}),
        echo=bool(data.get("echo")),
        suffix=data.get("suffix"),
        response_format=_format_from_wire(data.get("response_format")),
    )


# -- results -------------------------------------------------------------------------------


def usage_to_wire(usage: Usage | None) -> list[int] | None:
    return None if usage is None else [usage.prompt_tokens, usage.completion_tokens]


def usage_from_wire(data: list[int] | None) -> Usage | None:
    return None if data is None else Usage(prompt_tokens=data[0], completion_tokens=data[1])


def delta_to_wire(delta: ChatDelta) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    if delta.content is not None:
        wire["c"] = delta.content
    if delta.tool_calls:
        wire["t"] = delta.tool_calls
    if delta.finish_reason is not None:
        wire["f"] = delta.finish_reason
    if delta.usage is not None:
        wire["u"] = usage_to_wire(delta.usage)
    if delta.role is not None:
        wire["r"] = delta.role
    return wire


def delta_from_wire(wire: dict[str, Any]) -> ChatDelta:
    return ChatDelta(
        content=wire.get("c"),
        tool_calls=wire.get("t"),
        finish_reason=wire.get("f"),
        usage=usage_from_wire(wire.get("u")),
        role=wire.get("r"),
    )


def embedding_to_wire(result: EmbeddingResult) -> dict[str, Any]:
    return {"vectors": result.vectors, "usage": usage_to_wire(result.usage)}


def embedding_from_wire(data: dict[str, Any]) -> EmbeddingResult:
    return EmbeddingResult(
        vectors=data["vectors"], usage=usage_from_wire(data.get("usage")) or Usage()
    )


# -- errors --------------------------------------------------------------------------------


def error_to_wire(exc: BaseException) -> dict[str, Any]:
    """A Homeport error keeps its class; anything else is the engine failing."""
    if not isinstance(exc, errors.HomeportError):
        return {"kind": "UpstreamError", "message": f"the engine failed: {exc}"}
    return {
        "kind": type(exc).__name__,
        "message": exc.message,
        "param": exc.param,
        "code": exc.code,
        "retry_after": getattr(exc, "retry_after", None),
        "status": getattr(exc, "status", None),
    }


def error_from_wire(data: dict[str, Any]) -> errors.HomeportError:
    """Rebuild the error a runner reported; unknown kinds become `UpstreamError`."""
    kind = getattr(errors, str(data.get("kind")), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.HomeportError)):
        kind = errors.UpstreamError
    error: errors.HomeportError = kind.__new__(kind)
    errors.HomeportError.__init__(
        error, str(data.get("message") or "the runner failed"), param=data.get("param")
    )
    error.code = data.get("code")
    for attribute in ("retry_after", "status"):
        setattr(error, attribute, data.get(attribute))
    return error
