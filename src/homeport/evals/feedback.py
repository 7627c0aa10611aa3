"""Eval cases from rated conversations: what users marked down becomes a test that a better
answer must pass.

A rated answer's conversation is replayed as the test's steps (its user messages, in one
session). The last step is judged: after a thumbs down, against the problem the user
reported (their comment) or, without a comment, against the answer they rejected; after a
thumbs up, the answer they liked is the expected output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from homeport.errors import ValidationFailed
from homeport.evals.appfile import app_file, dump_yaml

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
    return dump_yaml({"tests": [dict(c) for c in cases]})


def add_cases(path: Path, cases: Sequence[Mapping[str, Any]]) -> int:
    """Add the cases (those whose name is new) to the first assistant's tests in the app file,
    keeping its comments; how many were added."""
    with app_file(path) as document:
        assistants = document.assistants()
        if not assistants:
            raise ValidationFailed(f"{path}: no assistants to add tests to")
        tests = assistants[0].setdefault("tests", [])
        names = {t.get("name") for t in tests if isinstance(t, Mapping)}
        new = [dict(c) for c in cases if c["name"] not in names]
        tests.extend(new)
    return len(new)
