"""Evals: an app version's tests, each run several times, with every answer's verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class EvalCase:
    """A test to run: its name in reports, the assistant it talks to, and the test."""

    name: str
    assistant: int
    test: dict[str, Any]  # the TestSpec, as the spec holds it

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "assistant": self.assistant, "test": self.test}


@dataclass(frozen=True, slots=True)
class EvalRun:
    id: str
    app_id: str
    app: str
    version: int
    tests_version: int
    label: str | None
    models: list[str]
    judge_model: str | None
    judge_prompt: str | None
    samples: int
    cases: list[EvalCase]
    status: Status
    error: str | None
    total: int
    baseline: str | None
    record: bool
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True, slots=True)
class EvalResult:
    """One sample of one case: passed when every step's assertions did."""

    case: str
    sample: int
    passed: bool
    steps: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "sample": self.sample,
            "passed": self.passed,
            "steps": self.steps,
        }
