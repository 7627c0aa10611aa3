"""Calling an API operation: arguments checked, the request built, sent through the SSRF
guard, and the response shaped into data for the model.

`ApiBinding` is an API as an assistant calls it: its operations, its base URL, and what the
app fixes on every call (headers, query and path parameters, with secrets already put in).
`ApiExecutor.call` never raises for what an API or the network does: a refused address, a
timeout, an error status or a body too large all become a `CallOutcome` with an `error` the
model can explain to the user. Arguments that do not fit the operation's schema are refused
before anything is sent.

Requests go through `homeport.outbound.OutboundClient`, the guard knowledge fetching uses:
private, loopback and metadata addresses are refused unless an admin allowed them, each
redirect is checked again (credentials never follow to another origin), bodies are capped
and every call has a deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from yarl import URL

from homeport.domain.tools import BODY_ARGUMENT, ApiCall, Operation
from homeport.errors import (
    HomeportError,
    OutboundBlocked,
    PayloadTooLarge,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from homeport.outbound import Fetched, OutboundClient
from homeport.tools.fixed import FixedResponses
from homeport.tools.schemas import RECURSIVE

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
DEFAULT_MAX_BYTES = 2 * 1024 * 1024
JSON_TYPES = ("application/json", "+json")


@dataclass(frozen=True, slots=True)
class ApiBinding:
    """An API as one assistant calls it. `operations` are those the assistant may call."""

    name: str
    description: str
    base_url: str
    operations: tuple[Operation, ...]
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    query: Mapping[str, str] = field(default_factory=dict, repr=False)
    path_params: Mapping[str, str] = field(default_factory=dict, repr=False)
    skip_unknown_keys: bool = False

    @property
    def fixed(self) -> frozenset[str]:
        """Parameters the app sets itself: the model never sees or sets them."""
        header_names = {name.lower() for name in self.headers}
        return frozenset(self.query) | frozenset(self.path_params) | header_names

    def arguments_schema(self, operation: Operation) -> dict[str, Any]:
        return operation.arguments_schema(fixed=self.fixed)


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What a call gave: the record, the response's data (shaped), or why it failed."""

    call: ApiCall
    data: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ApiExecutor:
    def __init__(
        self,
        outbound: OutboundClient,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        fixed: FixedResponses | None = None,
    ) -> None:
        self.outbound = outbound
        self.timeout = timeout
        self.max_bytes = max_bytes
        # While an app's tests run: answers declared by the test, the live API never called.
        self.fixed = fixed

    async def call(
        self,
        binding: ApiBinding,
        operation: Operation,
        arguments: Mapping[str, Any],
        *,
        credential: Mapping[str, str] | None = None,
    ) -> CallOutcome:
        """Call `operation` with the model's `arguments`; `credential` adds the user's
        header. Never raises for what the API or the network does."""
        started = time.perf_counter()
        problem = check_arguments(binding, operation, arguments)
        if problem is not None:
            detail, logged = problem
            return _failed(binding, operation, started, None, detail, logged=logged)
        url, headers, body = build_request(binding, operation, arguments)
        if self.fixed is not None:
            return self._fixed(self.fixed, binding, operation, arguments, url, started)
        try:
            fetched = await self.outbound.request(
                operation.method,
                url,
                headers={**headers, **(credential or {})},
                body=body,
                max_bytes=self.max_bytes,
                timeout=self.timeout,
            )
        except HomeportError as exc:
            # The log keeps no arguments: the URL's query goes, wherever a message quotes it.
            error = _explain(exc).replace(url, str(URL(url).with_query(None)))
            return _failed(binding, operation, started, None, error)
        return _answered(binding, operation, started, fetched)

    @staticmethod
    def _fixed(
        fixed: FixedResponses,
        binding: ApiBinding,
        operation: Operation,
        arguments: Mapping[str, Any],
        url: str,
        started: float,
    ) -> CallOutcome:
        response = fixed.find(binding.name, operation.name, arguments)
        if response is not None:
            return _answered(binding, operation, started, response.fetched(url))
        error = (
            f"no fixed response for {operation.name} matches these arguments"
            if fixed.declared(binding.name, operation.name)
            else f"no fixed response for {operation.name} in this test"
        )
        return _failed(binding, operation, started, None, error)


def check_arguments(
    binding: ApiBinding, operation: Operation, arguments: Mapping[str, Any]
) -> tuple[str, str] | None:
    """Why `arguments` do not fit the operation (the first problem), or None: for the
    model (values quoted) and for the call log (no values)."""
    validator = Draft202012Validator(binding.arguments_schema(operation))
    try:
        validator.validate(dict(arguments))
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "arguments"
        start = f"invalid arguments for {operation.name}: {where}"
        return f"{start}: {exc.message}", f"{start} (fails '{exc.validator}')"
    return None


def build_request(
    binding: ApiBinding, operation: Operation, arguments: Mapping[str, Any]
) -> tuple[str, dict[str, str], bytes | None]:
    """The URL (path and query filled in), headers and body of a call."""
    values = {**arguments, **binding.path_params}
    path = operation.path
    query: list[tuple[str, str]] = list(binding.query.items())
    headers = {"Accept": "application/json", **binding.headers}
    for parameter in operation.parameters:
        value = values.get(parameter.name, binding.query.get(parameter.name))
        if value is None or parameter.name in binding.query:
            continue
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", quote(_text(value), safe=""))
        elif parameter.location == "query":
            items = value if isinstance(value, list) else [value]
            query += [(parameter.name, _text(item)) for item in items]
        elif parameter.location == "header" and parameter.name.lower() not in binding.fixed:
            headers[parameter.name] = _text(value)
    url = URL(binding.base_url.rstrip("/") + path)
    if query:
        url = url.extend_query(query)
    body = _body(operation, arguments.get(BODY_ARGUMENT), headers)
    return str(url), headers, body


def _body(operation: Operation, value: Any, headers: dict[str, str]) -> bytes | None:
    if operation.body is None or value is None:
        return None
    content_type = operation.body_content_type or "application/json"
    headers["Content-Type"] = content_type
    if content_type == "application/x-www-form-urlencoded" and isinstance(value, dict):
        return urlencode({k: _text(v) for k, v in value.items()}).encode()
    return orjson.dumps(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


# -- outcomes ---------------------------------------------------------------------------------


def _answered(
    binding: ApiBinding, operation: Operation, started: float, fetched: Fetched
) -> CallOutcome:
    data = parse_body(fetched)
    if fetched.status >= 400:
        detail = _error_detail(data)
        error = f"the API answered {fetched.status}" + (f": {detail}" if detail else "")
        return _failed(binding, operation, started, fetched.status, error)
    if binding.skip_unknown_keys and operation.response is not None:
        data = keep_declared(data, operation.response)
    call = _record(binding, operation, started, fetched.status, None)
    return CallOutcome(call, data=data)


def _failed(
    binding: ApiBinding,
    operation: Operation,
    started: float,
    status: int | None,
    error: str,
    *,
    logged: str | None = None,
) -> CallOutcome:
    """A failed call: `error` for the model, `logged` (default: the same) for the log."""
    call = _record(binding, operation, started, status, logged or error)
    return CallOutcome(call, error=error)


def _record(
    binding: ApiBinding, operation: Operation, started: float, status: int | None, error: str | None
) -> ApiCall:
    latency = (time.perf_counter() - started) * 1000
    log.info(
        "api call %s.%s -> %s in %.0f ms", binding.name, operation.name, status or error, latency
    )
    return ApiCall(binding.name, operation.name, operation.method, status, latency, error)


def _explain(exc: HomeportError) -> str:
    """A failure in words a model can pass on (no credentials: messages never carry them)."""
    if isinstance(exc, OutboundBlocked):
        return f"the API's address is not allowed ({exc.message}); an admin can allow it"
    if isinstance(exc, UpstreamTimeout):
        return "the API did not answer in time"
    if isinstance(exc, UpstreamUnavailable):
        return "the API could not be reached"
    if isinstance(exc, PayloadTooLarge):
        return "the API's answer was too large to use"
    return f"the call failed: {exc.message}"


def parse_body(fetched: Fetched) -> Any:
    """JSON when the body is JSON (by type or by content), else the text."""
    text = fetched.text()
    looks_json = any(t in fetched.content_type for t in JSON_TYPES) or text[:1] in "{["
    if looks_json and text:
        try:
            return orjson.loads(fetched.data)
        except orjson.JSONDecodeError:
            pass
    return text


def _error_detail(data: Any) -> str:
    if isinstance(data, dict):
        for key in ("error", "message", "detail", "title"):
            value = data.get(key)
            if isinstance(value, str):
                return value[:300]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return str(value["message"])[:300]
    return data[:300].strip() if isinstance(data, str) else ""


def keep_declared(
    data: Any, schema: Mapping[str, Any], *, _outer: tuple[Mapping[str, Any], ...] = ()
) -> Any:
    """`data` with only the object fields `schema` declares (recursively). A recursive
    schema's stub (`homeport.tools.schemas`) is shaped like the nearest enclosing object
    schema, which it is for a type that contains itself; any other schema that declares no
    properties keeps the object whole."""
    if isinstance(data, list):
        items = schema.get("items")
        if not isinstance(items, dict):
            return data
        return [keep_declared(item, items, _outer=_outer) for item in data]
    if not isinstance(data, dict):
        return data
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        if _outer and RECURSIVE in str(schema.get("description", "")):
            return keep_declared(data, _outer[-1], _outer=_outer[:-1])
        return data
    outer = (*_outer, schema)
    return {
        key: keep_declared(value, properties[key], _outer=outer)
        for key, value in data.items()
        if key in properties and isinstance(properties[key], dict)
    }
