"""Reading an OpenAPI description (3.0, 3.1 or Swagger 2.0) into an `ApiDescription`.

    SpecUnusable(ValidationFailed)     the spec cannot be used; every problem, one per line

Each operation (a method under a path) becomes one `Operation`: its tool name (the
operationId made safe for tool names, else one made of method and path, `get_jobs_jobId`;
unique in the API), its parameters (the path item's merged with the operation's own, which
win), its request body (JSON preferred, then a form, then whatever the spec lists first) and
the JSON Schema of its successful JSON response. Swagger 2.0 reads into the same shapes: its
`body` parameter is the request body and its `formData` parameters one form body. Schemas
come from `homeport.tools.schemas`, with every local `$ref` inlined.

Problems are collected over the whole spec and raised together, each naming its operation:
`GET /jobs/{jobId} (getJob): path parameter 'jobId' is not declared (no parameter with in:
path)`. A spec with something a tool uses less well (an XML-only body) still reads; one whose
calls could not be made as written (an undeclared path parameter, a broken `$ref`) does not.
Headers the HTTP client sets itself (Accept, Content-Type, Authorization) are never tool
arguments, as OpenAPI 3 says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import yaml

from homeport.domain.tools import ApiDescription, Operation, Parameter, ParameterLocation
from homeport.errors import ValidationFailed
from homeport.tools.schemas import JsonSchema, References

try:
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # PyYAML built without libyaml: the same, slower
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MAX_NAME = 64  # OpenAI's limit on a tool name
MAX_YAML_VALUES = 5_000_000  # aliases (*name) expanded: no "billion laughs"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_LOCATIONS = frozenset({"path", "query", "header", "cookie"})
_CLIENT_HEADERS = frozenset({"accept", "content-type", "authorization"})
_SWAGGER_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems",
    "uniqueItems", "multipleOf",
)  # fmt: skip
_TEMPLATE = re.compile(r"\{([^{}]+)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_WORD = re.compile(r"[A-Za-z0-9]+")


class SpecUnusable(ValidationFailed):
    """The spec cannot be used: `problems` says why, one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems), param="schema", code="api_spec_invalid")


def parse_text(text: str) -> dict[str, Any]:
    """A spec's text, JSON or YAML, as data."""
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise SpecUnusable([f"not valid JSON: {exc}"]) from exc
    else:
        document = _load_yaml(text)
    if not isinstance(document, dict):
        raise SpecUnusable([f"not an OpenAPI document: the text holds {_kind(document)}"])
    return document


def read_api(document: Mapping[str, Any]) -> ApiDescription:
    """The API a spec describes, every operation a tool; SpecUnusable lists what is wrong."""
    version = _version(document)
    reader = _Reader(document, swagger=version.startswith("2"))
    try:
        operations = reader.operations()
    except RecursionError as exc:
        raise SpecUnusable(["the spec is nested too deeply"]) from exc
    servers = _servers(document, swagger=reader.swagger, problems=reader.problems)
    if reader.problems:
        raise SpecUnusable(reader.problems)
    info = document.get("info")
    title = info.get("title") if isinstance(info, Mapping) else None
    return ApiDescription(
        title=str(title or ""), version=version, servers=servers, operations=tuple(operations)
    )


class _Body(NamedTuple):
    schema: JsonSchema | None = None
    required: bool = False
    content_type: str | None = None


class _Reader:
    """One pass over a spec's operations, collecting their problems."""

    def __init__(self, document: Mapping[str, Any], *, swagger: bool) -> None:
        self.document = document
        self.swagger = swagger
        self.refs = References(document)
        self.problems: list[str] = []
        self._names: set[str] = set()
        self._ids: dict[str, str] = {}  # operationId -> the operation that has it

    def operations(self) -> list[Operation]:
        paths = self.document.get("paths", {})
        if not isinstance(paths, Mapping):
            self.problems.append("`paths` is not a mapping")
            return []
        found: list[Operation | None] = []
        for path, item in paths.items():
            if not str(path).startswith("x-"):
                found += self._path_item(str(path), item)
        if not found:
            self.problems.append("the spec has no operations")
        return [operation for operation in found if operation is not None]

    def _path_item(self, path: str, item: Any) -> list[Operation | None]:
        """The operations under one path; None for each one that has problems."""
        item = self.refs.follow(item)
        problems = self.refs.problems()
        if not isinstance(item, Mapping) and not problems:
            problems.append("the path item is not a mapping")
        if problems:
            self.problems += [f"{path}: {problem}" for problem in problems]
            return [None]
        shared = item.get("parameters", [])
        return [self._operation(path, m, item[m], shared) for m in _METHODS if m in item]

    def _operation(self, path: str, method: str, raw: Any, shared: Any) -> Operation | None:
        operation_id = raw.get("operationId") if isinstance(raw, Mapping) else None
        label = f"{method.upper()} {path}" + (f" ({operation_id})" if operation_id else "")
        problems: list[str] = []
        operation = None
        if isinstance(raw, Mapping):
            problems += self._claim(operation_id, label)
            operation = self._build(path, method, raw, shared, problems)
        else:
            problems.append("the operation is not a mapping")
        problems += self.refs.problems()
        self.problems += [f"{label}: {problem}" for problem in problems]
        return None if problems else operation

    def _claim(self, operation_id: Any, label: str) -> list[str]:
        if operation_id is None:
            return []
        if not isinstance(operation_id, str):
            return [f"operationId {operation_id!r} is not a string"]
        if operation_id in self._ids:
            return [f"operationId '{operation_id}' is also used by {self._ids[operation_id]}"]
        self._ids[operation_id] = label
        return []

    def _build(
        self, path: str, method: str, raw: Mapping[str, Any], shared: Any, problems: list[str]
    ) -> Operation:
        declared = self._merged_parameters(shared, raw.get("parameters", []), problems)
        problems += _path_problems(path, declared)
        parameters = [
            self._parameter(p, problems)
            for p in declared
            if not (self.swagger and p.get("in") in ("body", "formData"))
        ]
        body = (
            self._swagger_body(raw, declared, problems)
            if self.swagger
            else self._request_body(raw.get("requestBody"), problems)
        )
        operation_id = raw.get("operationId")
        return Operation(
            name=self._name(operation_id, method, path),
            method=method.upper(),
            path=path,
            summary=_text(raw.get("summary")),
            description=_text(raw.get("description")),
            parameters=tuple(p for p in parameters if p is not None),
            body=body.schema,
            body_required=body.required,
            body_content_type=body.content_type,
            response=self._response(raw),
            tags=tuple(_strings(raw.get("tags"))),
        )

    def _merged_parameters(
        self, shared: Any, own: Any, problems: list[str]
    ) -> list[Mapping[str, Any]]:
        """The path item's parameters and the operation's, which replace any of the same
        name and location."""
        merged: dict[tuple[Any, Any], Mapping[str, Any]] = {}
        for level in (shared, own):
            if not isinstance(level, list):
                problems.append("`parameters` is not a list")
                continue
            for raw in level:
                parameter = self.refs.follow(raw)
                if isinstance(parameter, Mapping):
                    merged[parameter.get("name"), parameter.get("in")] = parameter
                elif parameter is not None:
                    problems.append(f"a parameter is not a mapping: {parameter!r:.60}")
        return list(merged.values())

    def _parameter(self, raw: Mapping[str, Any], problems: list[str]) -> Parameter | None:
        name, location = raw.get("name"), raw.get("in")
        if not isinstance(name, str) or not name:
            problems.append(f"a parameter (in: {location}) has no name")
            return None
        if location not in _LOCATIONS:
            problems.append(f"parameter '{name}' has an unknown location (in: {location!r})")
            return None
        if location == "path" and raw.get("required") is not True:
            problems.append(f"path parameter '{name}' must be required: true")
        schema = self._parameter_schema(raw)
        if schema is None:
            needs = "type" if self.swagger else "schema (or content)"
            problems.append(f"parameter '{name}' has no {needs}")
        if location == "header" and name.lower() in _CLIENT_HEADERS:
            return None
        return Parameter(
            name=name,
            location=cast(ParameterLocation, location),
            required=raw.get("required") is True,
            schema=schema or {},
            description=_text(raw.get("description")) or None,
        )

    def _parameter_schema(self, raw: Mapping[str, Any]) -> JsonSchema | None:
        if self.swagger:
            if "type" not in raw:
                return None
            return self.refs.schema(
                {k: raw[k] for k in _SWAGGER_SCHEMA_KEYS if k in raw}, "request"
            )
        content = raw.get("content")
        if "schema" not in raw and isinstance(content, Mapping) and content:
            raw = next(iter(content.values()))
        if not isinstance(raw, Mapping) or "schema" not in raw:
            return None
        return self.refs.schema(raw["schema"], "request")

    def _request_body(self, raw: Any, problems: list[str]) -> _Body:
        """An OpenAPI 3 `requestBody`."""
        if raw is None:
            return _Body()
        body = self.refs.follow(raw)
        content = body.get("content") if isinstance(body, Mapping) else None
        if not isinstance(content, Mapping) or not content:
            if body is not None:
                problems.append("the request body has no content")
            return _Body()
        content_type = _choose_media_type(content)
        media = content[content_type]
        schema = self.refs.schema(
            media.get("schema", {}) if isinstance(media, Mapping) else {}, "request"
        )
        schema = _described(schema, _text(body.get("description")))
        return _Body(schema, body.get("required") is True, content_type)

    def _swagger_body(
        self, raw: Mapping[str, Any], declared: list[Mapping[str, Any]], problems: list[str]
    ) -> _Body:
        """A Swagger 2.0 `in: body` parameter, or the `in: formData` ones as one form."""
        bodies = [p for p in declared if p.get("in") == "body"]
        form = [p for p in declared if p.get("in") == "formData"]
        if bodies and form:
            problems.append("it has both a body parameter and formData parameters")
        if len(bodies) > 1:
            problems.append("it has more than one body parameter")
        consumes = raw.get("consumes", self.document.get("consumes", []))
        consumes = [str(c) for c in consumes] if isinstance(consumes, list) else []
        if form:
            return self._form_body(form, consumes, problems)
        if not bodies:
            return _Body()
        if "schema" not in bodies[0]:
            problems.append(f"body parameter '{bodies[0].get('name')}' has no schema")
        schema = self.refs.schema(bodies[0].get("schema", {}), "request")
        schema = _described(schema, _text(bodies[0].get("description")))
        content_type = _choose_media_type(consumes) or "application/json"
        return _Body(schema, bodies[0].get("required") is True, content_type)

    def _form_body(
        self, form: list[Mapping[str, Any]], consumes: list[str], problems: list[str]
    ) -> _Body:
        """Swagger 2.0 `formData` parameters, checked as other parameters are, as the
        properties of one object, sent as a form (multipart when there is a file)."""
        fields = [
            field
            for p in form
            if (field := self._parameter({**p, "in": "query"}, problems)) is not None
        ]
        properties = {f.name: _described(f.schema, f.description) for f in fields}
        required = [f.name for f in fields if f.required]
        schema: JsonSchema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        has_file = any(p.get("type") == "file" for p in form)
        multipart = has_file or (MULTIPART in consumes and FORM not in consumes)
        return _Body(schema, bool(required), MULTIPART if multipart else FORM)

    def _response(self, raw: Mapping[str, Any]) -> JsonSchema | None:
        """The JSON Schema of the first successful (else `default`) JSON response."""
        responses = raw.get("responses")
        if not isinstance(responses, Mapping):
            return None
        by_code = {str(code): response for code, response in responses.items()}
        codes = sorted(code for code in by_code if code.startswith("2"))
        for code in codes or [c for c in ("default",) if c in by_code]:
            schema = self._response_schema(self.refs.follow(by_code[code]))
            if schema is not None:
                return schema
        return None

    def _response_schema(self, response: Any) -> JsonSchema | None:
        if not isinstance(response, Mapping):
            return None
        if self.swagger:
            schema = response.get("schema")
        else:
            content = response.get("content")
            media_type = _json_media_type(content) if isinstance(content, Mapping) else None
            media = content[media_type] if isinstance(content, Mapping) and media_type else None
            schema = media.get("schema") if isinstance(media, Mapping) else None
        return None if schema is None else self.refs.schema(schema, "response")

    def _name(self, operation_id: Any, method: str, path: str) -> str:
        """A tool name, unique in this API: `name`, `name_2`, ..."""
        if isinstance(operation_id, str) and operation_id:
            base = _UNSAFE.sub("_", operation_id)[:MAX_NAME]
        else:
            base = "_".join([method, *_WORD.findall(path)])[:MAX_NAME]
        name, n = base, 2
        while name in self._names:
            suffix = f"_{n}"
            name, n = base[: MAX_NAME - len(suffix)] + suffix, n + 1
        self._names.add(name)
        return name


def _path_problems(path: str, declared: list[Mapping[str, Any]]) -> list[str]:
    """Each `{name}` in the path must be an `in: path` parameter, and each such parameter in
    the path."""
    in_path = [p.get("name") for p in declared if p.get("in") == "path"]
    in_template = _TEMPLATE.findall(path)
    problems = [
        f"path parameter '{name}' is not declared (no parameter with in: path)"
        for name in in_template
        if name not in in_path
    ]
    problems += [
        f"parameter '{name}' is in: path, but the path has no {{{name}}}"
        for name in in_path
        if name not in in_template
    ]
    return problems


def _described(schema: JsonSchema, description: str | None) -> JsonSchema:
    """`schema`, with `description` unless it has its own."""
    if description and "description" not in schema:
        return {**schema, "description": description}
    return schema


def _choose_media_type(types: Iterable[str]) -> str | None:
    """JSON if the operation takes it, else a form, else the first listed."""
    types = list(types)
    for wanted in (_is_json, lambda t: _base(t) in (FORM, MULTIPART)):
        chosen = next((t for t in types if wanted(t)), None)
        if chosen is not None:
            return chosen
    return types[0] if types else None


def _json_media_type(content: Mapping[str, Any]) -> str | None:
    """A response's JSON media type; `*/*` counts, as generators write it for JSON."""
    chosen = next((t for t in content if _is_json(t)), None)
    return chosen or next((t for t in content if _base(t) == "*/*"), None)


def _is_json(media_type: str) -> bool:
    base = _base(media_type)
    return base in ("application/json", "text/json") or base.endswith("+json")


def _base(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _kind(value: Any) -> str:
    """What `value` is, for a message: "a list", "nothing"."""
    kinds = {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}
    return kinds.get(type(value), "a single value")


def _version(document: Mapping[str, Any]) -> str:
    """The spec's OpenAPI (3.x) or Swagger (2.0) version."""
    if not isinstance(document, Mapping):
        raise SpecUnusable([f"not an OpenAPI 3.x or Swagger 2.0 document: {_kind(document)}"])
    openapi, swagger = document.get("openapi"), document.get("swagger")
    if openapi is not None and str(openapi).startswith("3."):
        return str(openapi)
    if swagger is not None and str(swagger) == "2.0":
        return "2.0"
    found = (
        f"openapi: {openapi!r}"
        if openapi is not None
        else f"swagger: {swagger!r}"
        if swagger is not None
        else "it has no `openapi` or `swagger` version"
    )
    raise SpecUnusable([f"not an OpenAPI 3.x or Swagger 2.0 document: {found}"])


def _servers(document: Mapping[str, Any], *, swagger: bool, problems: list[str]) -> tuple[str, ...]:
    """Base URLs: 3.x `servers` (variables at their defaults); Swagger's scheme://host +
    basePath (only basePath when there is no host)."""
    if swagger:
        host, base_path = document.get("host"), str(document.get("basePath") or "")
        if not host:
            return (base_path,) if base_path else ()
        schemes = _strings(document.get("schemes")) or ["https"]
        return tuple(f"{scheme}://{host}{base_path}" for scheme in schemes)
    servers = document.get("servers", [])
    if not isinstance(servers, list):
        problems.append("`servers` is not a list")
        return ()
    return tuple(
        _server_url(server, problems)
        for server in servers
        if isinstance(server, Mapping) and isinstance(server.get("url"), str)
    )


def _server_url(server: Mapping[str, Any], problems: list[str]) -> str:
    variables = server.get("variables")
    variables = variables if isinstance(variables, Mapping) else {}

    def default(match: re.Match[str]) -> str:
        variable = variables.get(match[1])
        if isinstance(variable, Mapping) and "default" in variable:
            return str(variable["default"])
        problems.append(f"server {server['url']}: variable {{{match[1]}}} has no default")
        return match[0]

    return _TEMPLATE.sub(default, server["url"])


# -- YAML ---------------------------------------------------------------------------------------


class _YamlLoader(_SafeLoader):
    """Safe YAML, with dates left as the text they are (a spec's data is JSON)."""


def _timestamp_as_text(loader: _YamlLoader, node: yaml.ScalarNode) -> str:
    return loader.construct_scalar(node)


_YamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _load_yaml(text: str) -> Any:
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node, {}) > MAX_YAML_VALUES:
            raise SpecUnusable([f"more than {MAX_YAML_VALUES} values once aliases are expanded"])
        return None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise SpecUnusable([f"not valid JSON or YAML: {exc}"]) from exc
    except RecursionError as exc:
        raise SpecUnusable(["the spec is nested too deeply"]) from exc
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values the document holds with every alias expanded (counted once per node)."""
    if id(node) not in sizes:
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    return sizes[id(node)]
