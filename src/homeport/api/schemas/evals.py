"""Evals' request and response bodies (/api/v1/evals)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from homeport.evals.judge import DEFAULT_PROMPT, MAX_REASON


class EvalIn(BaseModel):
    """Run an app version's tests: an existing version, or a draft made from `spec`."""

    model_config = ConfigDict(extra="forbid")

    app: str = Field(min_length=1, max_length=64)
    version: int | None = Field(None, ge=1, description="Default: the current version")
    spec: dict[str, Any] | None = Field(
        None, description="An app spec (the `spec` of a kind: AIApp) to run as a draft version"
    )
    label: str | None = Field(None, max_length=200, description="Names the draft in history")
    git: dict[str, str] | None = Field(None, description="Where the draft's file came from")
    samples: int = Field(3, ge=1, le=100, description="Runs of each test case")
    judge_model: str | None = Field(
        None, description="Judges expected_output and llm_judge; default: the default model"
    )
    judge_prompt: str = Field(DEFAULT_PROMPT, description="The judge prompt's version")
    tests_version: int | None = Field(
        None, ge=1, description="Run this version's tests (comparing two versions on one set)"
    )
    baseline: str | None = Field(None, description="A run of the same app to compare with")
    record: bool = Field(
        False,
        description="Keep the live APIs' responses with each call (results[].steps[].api_calls"
        "[].response), to declare them as the tests' api_responses",
    )


class CaseOut(BaseModel):
    name: str
    passed: int
    total: int
    pass_rate: float
    low: float = Field(description="95% Wilson interval")
    high: float


class RateOut(BaseModel):
    passed: int
    total: int
    pass_rate: float
    low: float
    high: float


class EvalOut(BaseModel):
    """A run: its progress, per-case pass rates with 95% intervals, every sample's answers
    and verdicts, and the comparison with `baseline` once both have succeeded."""

    id: str
    app: str
    version: int
    tests_version: int
    draft: bool
    label: str | None
    model: str
    judge_model: str | None
    judge_prompt: str | None
    samples: int
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    error: str | None
    total: int
    done: int
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    baseline: str | None
    record: bool = False
    summary: RateOut | None
    cases: list[CaseOut]
    results: list[dict[str, Any]]
    comparison: dict[str, Any] | None


class EvalPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[EvalOut]
    has_more: bool


class JudgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, description="The judge model; default: the default model")
    prompt: str = Field(DEFAULT_PROMPT, description="The judge prompt's version")
    question: str = Field(max_length=20_000)
    answer: str = Field(max_length=50_000)
    criteria: str = Field(min_length=1, max_length=5_000)


class VerdictOut(BaseModel):
    model: str
    prompt: str
    verdict: Literal["pass", "fail"]
    passed: bool = Field(alias="pass")
    score: int = Field(ge=1, le=5)
    reason: str = Field(max_length=MAX_REASON)

    model_config = ConfigDict(populate_by_name=True)
