"""Rule assertions: each a pure check of one answer and what produced it.

`Observation` is one step's answer as the eval saw it (text, timing, tokens, API calls,
citations). `check` judges it against any assertion but `llm_judge`, which needs a model
(`homeport.evals.judge`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from homeport.apps.cases import (
    Assertion,
    Cites,
    Contains,
    Equals,
    JsonSchema,
    Latency,
    LlmJudge,
    NotContains,
    NoToolCalled,
    Regex,
    Tokens,
    ToolCalled,
)

_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)\n?```", re.DOTALL)
QUOTED = 60


@dataclass(frozen=True, slots=True)
class Observation:
    """One answer: what the assistant said and how it got there."""

    answer: str
    latency_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    api_calls: Sequence[Mapping[str, Any]] = ()  # homeport.api_calls, with arguments
    citations: Sequence[Mapping[str, Any]] = ()  # homeport.citations
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """An assertion's verdict on one answer; `detail` says why, `score` is the judge's."""

    type: str
    name: str
    passed: bool
    detail: str
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "passed": self.passed,
            "detail": self.detail,
            "score": self.score,
        }


def describe(assertion: Assertion) -> str:
    """The assertion in words, for reports: "contains 'Paris'"."""
    return assertion.name or _WORDS[type(assertion)](assertion)


def check(assertion: Assertion, seen: Observation) -> Outcome:
    """The verdict of a rule assertion (`llm_judge` is the judge's: not here)."""
    if isinstance(assertion, LlmJudge):
        raise TypeError("llm_judge needs the judge model: homeport.evals.judge")
    passed, detail = _CHECKS[type(assertion)](assertion, seen)
    return Outcome(assertion.type, describe(assertion), passed, detail)


def _contains(a: Any, seen: Observation) -> tuple[bool, str]:
    if _find(seen.answer, a.value, a.ignore_case):
        return True, "found"
    return False, f"{_quote(a.value)} is not in the answer"


def _not_contains(a: Any, seen: Observation) -> tuple[bool, str]:
    if _find(seen.answer, a.value, a.ignore_case):
        return False, f"the answer contains {_quote(a.value)}"
    return True, "absent"


def _regex(a: Any, seen: Observation) -> tuple[bool, str]:
    flags = re.IGNORECASE if a.ignore_case else 0
    if re.search(a.pattern, seen.answer, flags) is not None:
        return True, "matched"
    return False, "no match in the answer"


def _equals(a: Any, seen: Observation) -> tuple[bool, str]:
    answer = seen.answer.strip()
    if _fold(answer, a.ignore_case) == _fold(a.value.strip(), a.ignore_case):
        return True, "equal"
    return False, f"the answer is {_quote(answer)}"


def _no_tool(a: Any, seen: Observation) -> tuple[bool, str]:
    names = [str(c.get("operation")) for c in seen.api_calls]
    return (False, f"called {', '.join(names)}") if names else (True, "no calls")


def _latency(a: Any, seen: Observation) -> tuple[bool, str]:
    return seen.latency_ms <= a.max_ms, f"{seen.latency_ms:.0f} ms (at most {a.max_ms:g})"


def _tokens(a: Any, seen: Observation) -> tuple[bool, str]:
    used = seen.completion_tokens + (seen.prompt_tokens if a.count == "total" else 0)
    return used <= a.max, f"{used} {a.count} tokens (at most {a.max})"


_CHECKS: dict[type, Callable[[Any, Observation], tuple[bool, str]]] = {
    Contains: _contains,
    NotContains: _not_contains,
    Regex: _regex,
    Equals: _equals,
    JsonSchema: lambda a, seen: _json_valid(seen.answer, a.json_schema),
    ToolCalled: lambda a, seen: _tool_called(a, seen.api_calls),
    NoToolCalled: _no_tool,
    Cites: lambda a, seen: _cites(a.source, seen.citations),
    Latency: _latency,
    Tokens: _tokens,
}

_WORDS: dict[type, Callable[[Any], str]] = {
    Contains: lambda a: f"contains {_quote(a.value)}",
    NotContains: lambda a: f"not_contains {_quote(a.value)}",
    Regex: lambda a: f"matches /{a.pattern}/",
    Equals: lambda a: f"equals {_quote(a.value)}",
    JsonSchema: lambda a: "valid JSON for the schema",
    ToolCalled: lambda a: (
        f"calls {a.operation or 'a tool'}" + (f" with {_json(a.arguments)}" if a.arguments else "")
    ),
    NoToolCalled: lambda a: "calls no tool",
    Cites: lambda a: f"cites {_quote(a.source)}",
    Latency: lambda a: f"answers within {a.max_ms:g} ms",
    Tokens: lambda a: f"at most {a.max} {a.count} tokens",
    LlmJudge: lambda a: f"judge: {_shorten(a.rubric)}",
}


def _find(text: str, value: str, ignore_case: bool) -> bool:
    return _fold(value, ignore_case) in _fold(text, ignore_case)


def _fold(text: str, ignore_case: bool) -> str:
    return text.casefold() if ignore_case else text


def _json_valid(answer: str, schema: Mapping[str, Any]) -> tuple[bool, str]:
    """The answer (or the JSON in its one fenced block) against `schema`."""
    fenced = _FENCE.search(answer)
    text = fenced.group(1) if fenced else answer
    try:
        value = json.loads(text)
    except ValueError as exc:
        return False, f"not JSON: {exc}"
    error = next(iter(Draft202012Validator(schema).iter_errors(value)), None)
    if error is None:
        return True, "valid"
    where = ".".join(str(p) for p in error.absolute_path) or "the answer"
    return False, f"{where}: {_shorten(error.message)}"


def _tool_called(assertion: ToolCalled, calls: Sequence[Mapping[str, Any]]) -> tuple[bool, str]:
    named = [
        c
        for c in calls
        if assertion.operation in (None, c.get("operation"))
        and assertion.api in (None, c.get("api"))
    ]
    if not named:
        made = ", ".join(str(c.get("operation")) for c in calls) or "none"
        return False, f"not called (calls made: {made})"
    for call in named:
        given = call.get("arguments") or {}
        if all(key in given and _same(given[key], v) for key, v in assertion.arguments.items()):
            return True, f"called {call.get('operation')} with {_json(given)}"
    seen = "; ".join(_json(c.get("arguments") or {}) for c in named)
    return False, f"called with other arguments: {_shorten(seen)}"


def _same(given: Any, wanted: Any) -> bool:
    if isinstance(given, str) and isinstance(wanted, str):
        return given.casefold() == wanted.casefold()
    return bool(given == wanted)


def _cites(source: str, citations: Sequence[Mapping[str, Any]]) -> tuple[bool, str]:
    wanted = source.casefold()

    def names(citation: Mapping[str, Any]) -> str:
        parts = (citation.get(k) for k in ("source", "title", "url"))
        return " ".join(str(p) for p in parts if p).casefold()

    matching = [c for c in citations if wanted in names(c)]
    if any(c.get("cited") for c in matching):
        return True, "cited"
    if matching:
        return False, f"{_quote(source)} was retrieved but the answer does not cite it"
    return False, f"no source matching {_quote(source)} was retrieved"


def _quote(text: str) -> str:
    return repr(_shorten(text))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTED else text[: QUOTED - 1] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
