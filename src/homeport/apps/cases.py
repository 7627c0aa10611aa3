"""An app's tests (`assistants[].tests`): conversations to replay, what each answer must
satisfy, and the fixed API responses that make a run independent of live data.

Helix writes a step as a prompt and an `expected_output` (judged by a model); Homeport adds
`assertions`, each a rule on the answer or on what produced it:

    tests:
      - name: refund
        steps:
          - prompt: How do I get a refund?
            expected_output: Asks for the order number.
            assertions:
              - {type: contains, value: order number}
              - {not_contains: "I don't know"}          # short form: the type as the key
              - {type: tool_called, operation: getOrder, arguments: {id: 42}}
              - {type: llm_judge, rubric: Polite, and no promises of a date.}
        api_responses:
          - {operation: getOrder, body: {id: 42, status: shipped}}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from homeport.apps.base import SpecModel, Text

MAX_SCORE = 5


class Check(SpecModel):
    """What every assertion has: a name for reports (default: the assertion in words)."""

    name: str | None = Field(None, description="Shown in reports instead of the default.")


class Contains(Check):
    type: Literal["contains"]
    value: Text
    ignore_case: bool = False


class NotContains(Check):
    type: Literal["not_contains"]
    value: Text
    ignore_case: bool = False


class Regex(Check):
    type: Literal["regex"]
    pattern: Text = Field(description="A Python regular expression, searched in the answer.")
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError(
                "regex", "not a regular expression: {error}", {"error": str(exc)}
            ) from None
        return value


class Equals(Check):
    type: Literal["equals"]
    value: str = Field(description="The whole answer, leading and trailing space ignored.")
    ignore_case: bool = False


class JsonSchema(Check):
    type: Literal["json_schema"]
    json_schema: Annotated[dict[str, Any], WithJsonSchema({"type": "object"})] = Field(
        alias="schema", description="The answer must be JSON valid against this schema."
    )

    @field_validator("json_schema")
    @classmethod
    def _is_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise PydanticCustomError(
                "json_schema", "not a JSON Schema: {error}", {"error": exc.message}
            ) from None
        return value


class ToolCalled(Check):
    """The assistant called an API operation (any, when `operation` is left out), with at
    least the given `arguments`."""

    type: Literal["tool_called"]
    operation: Text | None = Field(None, description="An operationId or tool name.")
    api: Text | None = Field(None, description="The API's name, where operations share names.")
    arguments: dict[str, Any] = Field(
        default_factory=dict, description="Each must be among the call's arguments."
    )


class NoToolCalled(Check):
    type: Literal["no_tool_called"]


class Cites(Check):
    """The answer cites (writes `[n]` for) a source whose name, title or URL contains
    `source`."""

    type: Literal["cites"]
    source: Text


class Latency(Check):
    type: Literal["latency"]
    max_ms: float = Field(gt=0, description="The answer took at most this long.")


class Tokens(Check):
    type: Literal["tokens"]
    max: int = Field(ge=1, description="At most this many tokens.")
    count: Literal["completion", "total"] = Field(
        "completion", description="Count the answer's tokens, or the prompt's too."
    )


class LlmJudge(Check):
    """The judge model reads the answer against `rubric` and gives a verdict."""

    type: Literal["llm_judge"]
    rubric: Text
    min_score: int | None = Field(
        None, ge=1, le=MAX_SCORE, description="Also require this score (1-5)."
    )


Assertion = Annotated[
    Contains
    | NotContains
    | Regex
    | Equals
    | JsonSchema
    | ToolCalled
    | NoToolCalled
    | Cites
    | Latency
    | Tokens
    | LlmJudge,
    Field(discriminator="type"),
]

# The short form `{contains: days}`: the type as the key, its main field as the value.
SHORT_FORMS: dict[str, str | None] = {
    "contains": "value",
    "not_contains": "value",
    "regex": "pattern",
    "equals": "value",
    "json_schema": "schema",
    "tool_called": "operation",
    "no_tool_called": None,
    "cites": "source",
    "latency": "max_ms",
    "tokens": "max",
    "llm_judge": "rubric",
}


def expand_short_form(item: Any) -> Any:
    """`{contains: days}` as `{type: contains, value: days}`; anything else unchanged."""
    if not isinstance(item, dict) or "type" in item or len(item) != 1:
        return item
    ((kind, value),) = item.items()
    if kind not in SHORT_FORMS:
        return item
    field = SHORT_FORMS[kind]
    if field is None:
        return {"type": kind}
    return {"type": kind, field: value}


class ApiResponse(SpecModel):
    """What an API operation answers while the test runs, instead of the live API."""

    operation: Text = Field(description="An operationId or tool name.")
    api: Text | None = Field(None, description="The API's name (default: any of them).")
    when: dict[str, Any] = Field(
        default_factory=dict,
        description="Only for calls with these arguments; the first match answers.",
    )
    status: int = Field(200, ge=100, le=599)
    body: Any = Field(None, description="JSON (a mapping or list), or text.")
    headers: dict[str, str] = Field(default_factory=dict)


class TestStep(SpecModel):
    """One turn: the prompt, and what the answer should say."""

    __test__: ClassVar[bool] = False

    prompt: Text
    expected_output: str | None = Field(
        None, description="What a good answer says; the judge model compares the answer."
    )
    assertions: list[Assertion] = Field(default_factory=list, description="Checks on the answer.")

    @field_validator("assertions", mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [expand_short_form(item) for item in value]

    @property
    def needs_judge(self) -> bool:
        return bool(self.expected_output) or any(a.type == "llm_judge" for a in self.assertions)


class TestSpec(SpecModel):
    """A conversation, one step per turn, sharing one session."""

    __test__: ClassVar[bool] = False

    name: Text
    steps: list[TestStep] = Field(min_length=1)
    api_responses: list[ApiResponse] = Field(
        default_factory=list,
        description="Fixed API responses for this test; calls to operations without one fail.",
    )

    @property
    def needs_judge(self) -> bool:
        return any(step.needs_judge for step in self.steps)


def case_name(assistant: str, test: str, *, several: bool) -> str:
    """A test's name in an eval run: the test's own, after its assistant's (id, name, or
    index) when several assistants have tests."""
    return f"{assistant}/{test}" if several else test
