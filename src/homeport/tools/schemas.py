"""OpenAPI schemas as self-contained JSON Schema (draft 2020-12), and the document's `$ref`s.

A tool's schema goes to a model on its own, so every local `$ref` is replaced by what it
points to (a JSON pointer into the document: `#/components/schemas/Pet`,
`#/definitions/Pet`, `#/paths/~1jobs/get`). `References` does that for one document:

- A ref already being expanded further up (`Employee.manager -> Employee`, `A -> B -> A`) is
  not expanded again: it becomes a stub, `{"type": "object", "description": "Employee
  (recursive; nested value as the API returns it)"}`. So does one nested `MAX_DEPTH` refs
  deep, and any once the schema has `MAX_OBJECTS` schema objects: every spec gives finite,
  bounded JSON.
- A ref's expansion is kept (per direction) and reused for every later schema, unless it
  held a stub or a broken ref: those depend on where the ref was reached, so they are reused
  only within the schema being inlined (which keeps a web of schemas that all refer to one
  another, as large APIs have, to one expansion per ref per schema). Reused expansions are
  shared, not copied: the schemas this module returns are read-only.
- A ref that leads nowhere, points outside the document or is not a string is a problem
  (`problems()`), and reads as `{}` (any value); the caller names the operation.

Converting OpenAPI 3.0 and Swagger 2.0 schemas (3.1's are JSON Schema already, and pass
through the same steps unchanged): `nullable: true` adds `"null"` to the type; boolean
`exclusiveMinimum`/`exclusiveMaximum` become the numeric form; `example` becomes `examples`;
Swagger's `type: file` becomes a binary string. Keys a tool does not need are dropped
(`xml`, `externalDocs`, `discriminator`, `x-*`, `$defs` once inlined). A request leaves out
`readOnly` properties and a response `writeOnly` ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast
from urllib.parse import unquote

Direction = Literal["request", "response"]
JsonSchema = dict[str, Any]

MAX_DEPTH = 12  # refs expanded inside one another before the rest is stubbed
MAX_OBJECTS = 10_000  # schema objects in one inlined schema (GitHub's largest has 4,537)

_DROPPED = frozenset(
    {"xml", "externalDocs", "discriminator", "$defs", "definitions", "$schema", "$id", "$comment"}
)
_SUBSCHEMA = frozenset(
    {
        "items", "additionalItems", "additionalProperties", "not", "contains", "if", "then",
        "else", "propertyNames", "unevaluatedProperties", "unevaluatedItems", "contentSchema",
    }
)  # fmt: skip
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_HIDDEN: dict[Direction, str] = {"request": "readOnly", "response": "writeOnly"}
RECURSIVE = "recursive; nested value as the API returns it"
_TOO_DEEP = "nested too deep to describe; as the API returns it"
_TOO_LARGE = "too large to describe here; as the API returns it"


class References:
    """The `$ref`s of one OpenAPI document: looked up, followed, and inlined into schemas."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._document = document
        # Expansions (with their size in schema objects) for any schema, and those that
        # depend on where they were reached, for the schema being inlined only.
        self._expanded: dict[tuple[str, Direction], tuple[Any, int]] = {}
        self._expanded_here: dict[tuple[str, Direction], tuple[Any, int]] = {}
        self._stubs: dict[tuple[str, str], JsonSchema] = {}
        self._stack: list[str] = []
        self._budget = MAX_OBJECTS  # schema objects the schema being inlined may still have
        self._irregular = 0  # stubs and broken refs made so far: expansions not to reuse
        self._problems: list[str] = []

    def problems(self) -> list[str]:
        """The problems found since the last call, each once."""
        found, self._problems = list(dict.fromkeys(self._problems)), []
        return found

    def lookup(self, ref: object) -> Any:
        """What a local ref points to; None, with a problem, when it points nowhere."""
        if not isinstance(ref, str):
            return self._broken(f"$ref {ref!r} is not a string")
        if not ref.startswith("#"):
            return self._broken(f"$ref '{ref}' points outside the document (not supported)")
        target: Any = self._document
        for token in _pointer(ref):
            if isinstance(target, Mapping) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                return self._broken(f"$ref '{ref}' does not resolve")
        return target

    def follow(self, value: Any) -> Any:
        """`value` with its `$ref`s followed (a parameter, body, response or path item that is
        a ref to another); None, with a problem, when one is broken or they go round."""
        seen: list[str] = []
        while isinstance(value, Mapping) and "$ref" in value:
            ref = value["$ref"]
            if ref in seen:
                return self._broken(f"$ref '{ref}' refers to itself")
            seen.append(ref)
            value = self.lookup(ref)
        return value

    def schema(self, schema: Any, direction: Direction) -> JsonSchema:
        """`schema` as a self-contained JSON Schema object for a request or a response."""
        self._budget = MAX_OBJECTS
        self._expanded_here.clear()
        converted = self._convert(schema, direction)
        if isinstance(converted, bool):
            return {} if converted else {"not": {}}
        return cast(JsonSchema, converted)

    def _broken(self, problem: str) -> None:
        self._problems.append(problem)
        self._irregular += 1
        return None

    def _convert(self, schema: Any, direction: Direction) -> Any:
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, Mapping):
            self._broken(f"a schema is not an object: {schema!r:.60}")
            return {}
        if "$ref" in schema:
            return self._reference(schema, direction)
        self._budget -= 1
        converted: JsonSchema = {}
        for key, value in schema.items():
            if _kept(key):
                converted[key] = self._keyword(key, value, direction)
        _hide(converted, _HIDDEN[direction])
        return _to_json_schema(converted)

    def _keyword(self, key: str, value: Any, direction: Direction) -> Any:
        if key in _SUBSCHEMA and not isinstance(value, list):
            return self._convert(value, direction)
        if (key in _SUBSCHEMA_LISTS or key == "items") and isinstance(value, list):
            return [self._convert(v, direction) for v in value]
        if key in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
            return {name: self._convert(v, direction) for name, v in value.items()}
        return value

    def _reference(self, schema: Mapping[str, Any], direction: Direction) -> Any:
        """A `$ref`, with what stands beside it: a description or title overrides the
        target's; anything else (`nullable`, constraints) applies on top of it."""
        ref = schema["$ref"]
        beside = {k: v for k, v in schema.items() if k != "$ref" and _kept(k)}
        nullable = beside.pop("nullable", False)
        target = self._expand(ref, direction)
        if not beside and nullable is not True:
            return target
        if beside.keys() <= {"description", "title"} and nullable is not True:
            return {**target, **beside} if isinstance(target, dict) else target
        parts = [{"$ref": ref}, beside] if beside else [{"$ref": ref}]
        return self._convert({"allOf": parts, "nullable": nullable}, direction)

    def _expand(self, ref: Any, direction: Direction) -> Any:
        """What `ref` points to, converted: reused when it was before, a stub when it is
        already being expanded further up, too deep, or past the budget."""
        if ref in self._stack:
            return self._stub(ref, RECURSIVE)
        if len(self._stack) >= MAX_DEPTH:
            return self._stub(ref, _TOO_DEEP)
        key = (ref, direction) if isinstance(ref, str) else None
        if key in self._expanded or key in self._expanded_here:
            return self._reuse(ref, key)
        if self._budget <= 0:
            return self._stub(ref, _TOO_LARGE)
        target = self.lookup(ref)
        if target is None:
            return {}
        irregular, budget = self._irregular, self._budget
        self._stack.append(ref)
        try:
            expanded = self._convert(target, direction)
        finally:
            self._stack.pop()
        kept = self._expanded if self._irregular == irregular else self._expanded_here
        if key is not None:
            kept[key] = (expanded, budget - self._budget)
        return expanded

    def _reuse(self, ref: str, key: tuple[str, Direction]) -> Any:
        if key in self._expanded_here:
            self._irregular += 1  # what holds it depends on where it was reached, as it does
        expanded, size = self._expanded.get(key) or self._expanded_here[key]
        if size >= self._budget:
            return self._stub(ref, _TOO_LARGE)
        self._budget -= size
        return expanded

    def _stub(self, ref: str, why: str) -> JsonSchema:
        """A schema standing for `ref`'s value without describing it: its type, and why."""
        self._irregular += 1
        self._budget -= 1
        if (ref, why) not in self._stubs:
            tokens = _pointer(ref)
            target = self.lookup(ref)
            stub: JsonSchema = {
                "description": f"{tokens[-1] if tokens else 'the document'} ({why})"
            }
            kind = target.get("type") if isinstance(target, Mapping) else None
            if isinstance(kind, str) and kind != "file":
                stub = {"type": kind, **stub}
            self._stubs[ref, why] = stub
        return self._stubs[ref, why]


def _kept(key: str) -> bool:
    return key not in _DROPPED and not key.startswith("x-")


def _pointer(ref: str) -> list[str]:
    """The tokens of a ref's JSON pointer (`#/paths/~1jobs` -> `["paths", "/jobs"]`); an
    anchor (`#Pet`) is one token, which leads nowhere."""
    fragment = unquote(ref[1:])
    if not fragment.startswith("/"):
        return [fragment] if fragment else []
    return [t.replace("~1", "/").replace("~0", "~") for t in fragment[1:].split("/")]


def _hide(schema: JsonSchema, flag: str) -> None:
    """Leave out the properties marked `flag` (`readOnly` in requests, `writeOnly` in
    responses), and take them out of `required`."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return
    hidden = {n for n, s in properties.items() if isinstance(s, dict) and s.get(flag) is True}
    if not hidden:
        return
    schema["properties"] = {n: s for n, s in properties.items() if n not in hidden}
    if isinstance(schema.get("required"), list):
        schema["required"] = [name for name in schema["required"] if name not in hidden]
        if not schema["required"]:
            del schema["required"]


def _to_json_schema(schema: JsonSchema) -> JsonSchema:
    """An OpenAPI 3.0 / Swagger 2.0 schema's own keys (subschemas done) as JSON Schema."""
    if schema.get("type") == "file":
        schema.update(type="string", format="binary")
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if isinstance(schema.get(flag), bool) and schema.pop(flag) and bound in schema:
            schema[flag] = schema.pop(bound)
    if "example" in schema:
        schema.setdefault("examples", [schema.pop("example")])
    if not isinstance(schema.get("examples", []), list):
        del schema["examples"]
    if not isinstance(schema.get("required", []), list):
        del schema["required"]  # Swagger-style `required: true` on a property
    if isinstance(schema.get("items"), list):
        schema["prefixItems"] = schema.pop("items")
    if schema.pop("nullable", False) is True:
        return _nullable(schema)
    return schema


def _nullable(schema: JsonSchema) -> JsonSchema:
    kind = schema.get("type")
    if isinstance(kind, str):
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list):
        schema["type"] = kind if "null" in kind else [*kind, "null"]
    else:
        return {"anyOf": [schema, {"type": "null"}]}
    if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema
