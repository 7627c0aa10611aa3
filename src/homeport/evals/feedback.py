"""Eval cases from rated conversations: what users marked down becomes a test that a better
answer must pass.

A rated answer's conversation is replayed as the test's steps (its user messages, in one
session). The last step is judged: after a thumbs down, against the problem the user
reported (their comment) or, without a comment, against the answer they rejected; after a
thumbs up, the answer they liked is the expected output.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from homeport.errors import ValidationFailed

QUOTED = 500  # characters of a rejected answer quoted in a rubric


def cases_from_feedback(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One test per rated answer (`GET /api/v1/feedback` items), oldest first."""
    cases = []
    for item in reversed(items):
        case = _case(item)
        if case is not None:
            cases.append(case)
    return cases


def _case(item: Mapping[str, Any]) -> dict[str, Any] | None:
    conversation = list(item.get("conversation") or [])
    if not conversation or conversation[-1].get("role") != "assistant":
        return None
    answer = str(conversation[-1].get("content") or "")
    prompts = [str(m.get("content") or "") for m in conversation if m.get("role") == "user"]
    if not prompts:
        return None
    steps: list[dict[str, Any]] = [{"prompt": p} for p in prompts]
    comment = (item.get("comment") or "").strip()
    if item.get("rating") == "up":
        steps[-1]["expected_output"] = answer
    else:
        steps[-1]["assertions"] = [{"type": "llm_judge", "rubric": _rubric(comment, answer)}]
    return {"name": f"feedback-{str(item.get('id', ''))[-8:]}", "steps": steps}


def _rubric(comment: str, answer: str) -> str:
    if comment:
        return f"The answer avoids the problem a user reported with an earlier one: {comment}"
    rejected = answer if len(answer) <= QUOTED else answer[: QUOTED - 1] + "…"
    return (
        "The answer is correct and helpful, unlike this earlier answer that a user rated "
        f"unhelpful: {rejected}"
    )


def cases_yaml(cases: Sequence[Mapping[str, Any]]) -> str:
    """The cases as a `tests:` block to paste under an assistant."""
    out = io.StringIO()
    _yaml().dump({"tests": [dict(c) for c in cases]}, out)
    return out.getvalue()


def add_cases(path: Path, cases: Sequence[Mapping[str, Any]]) -> int:
    """Add the cases (those whose name is new) to the first assistant's tests in the app file,
    keeping its comments and layout; how many were added."""
    yaml = _yaml()
    try:
        document = yaml.load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationFailed(f"{path}: {exc}") from exc
    assistant = _first_assistant(document, path)
    tests = assistant.get("tests")
    if tests is None:
        tests = assistant["tests"] = CommentedSeq()
    names = {t.get("name") for t in tests if isinstance(t, Mapping)}
    new = [dict(c) for c in cases if c["name"] not in names]
    tests.extend(new)
    out = io.StringIO()
    yaml.dump(document, out)
    path.write_text(out.getvalue(), encoding="utf-8")
    return len(new)


def _first_assistant(document: Any, path: Path) -> CommentedMap:
    spec = document.get("spec", document) if isinstance(document, Mapping) else None
    assistants = spec.get("assistants") if isinstance(spec, Mapping) else None
    if not assistants or not isinstance(assistants[0], CommentedMap):
        raise ValidationFailed(f"{path}: no assistants to add tests to")
    return assistants[0]


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # long prompts stay on one line
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml
