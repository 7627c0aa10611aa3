"""Running one test case once: its steps as one conversation, each answer checked.

`ask` sends the conversation so far to the app and returns its answer; the runner times it,
checks every assertion (rules here, `llm_judge` and `expected_output` by the judge), and
carries the answer into the next step. A step that gets no answer fails, and the steps
after it do not run: they would be asked in a conversation that did not happen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from homeport.apps.cases import LlmJudge, TestSpec, TestStep
from homeport.domain.chat import ChatMessage
from homeport.errors import UpstreamError
from homeport.evals.checks import Observation, Outcome, check, describe
from homeport.evals.judge import Judge, JudgeFailed, criteria
from homeport.tools.fixed import ApiEnvironment, FixedResponse, FixedResponses

MAX_ANSWER = 4000  # characters of each answer kept with the results
MAX_RECORDED = 64 * 1024  # characters of a recorded API response's JSON


@dataclass(frozen=True, slots=True)
class Reply:
    """What the app answered, as the eval sees it."""

    answer: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    api_calls: Sequence[Mapping[str, Any]] = ()
    citations: Sequence[Mapping[str, Any]] = ()
    # How long the answer took, when the asker knows better than the runner's clock (a wait
    # for a rate limit is not the app's time).
    latency_ms: float | None = None


class NoAnswer(UpstreamError):
    """The app gave no answer (the model or provider failed); the message says why."""


Ask = Callable[[list[ChatMessage], ApiEnvironment], Awaitable[Reply]]


def fixed_responses(test: TestSpec) -> FixedResponses | None:
    """The test's declared API responses; None when it declares none (live APIs)."""
    if not test.api_responses:
        return None
    return FixedResponses(
        [
            FixedResponse(r.operation, r.api, r.when, r.status, r.body, r.headers)
            for r in test.api_responses
        ]
    )


async def run_case(
    test: TestSpec, ask: Ask, judge: Judge | None, *, record: bool = False
) -> tuple[bool, list[dict[str, Any]]]:
    """Whether every step passed, and each step's record (prompt, answer, verdicts); with
    `record`, the API calls keep the live responses."""
    environment = ApiEnvironment(fixed_responses(test), record=record)
    messages: list[ChatMessage] = []
    steps: list[dict[str, Any]] = []
    for step in test.steps:
        messages.append(ChatMessage("user", step.prompt))
        kept, answer = await _step(step, messages, ask, environment, judge)
        steps.append(kept)
        if answer is None:
            break
        messages.append(ChatMessage("assistant", answer))
    passed = len(steps) == len(test.steps) and all(s["passed"] for s in steps)
    return passed, steps


async def _step(
    step: TestStep,
    messages: list[ChatMessage],
    ask: Ask,
    environment: ApiEnvironment,
    judge: Judge | None,
) -> tuple[dict[str, Any], str | None]:
    started = time.perf_counter()
    try:
        reply = await ask(list(messages), environment)
    except NoAnswer as exc:
        return _record(step, None, str(exc), []), None
    seen = Observation(
        answer=reply.answer,
        latency_ms=reply.latency_ms
        if reply.latency_ms is not None
        else (time.perf_counter() - started) * 1000,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        api_calls=reply.api_calls,
        citations=reply.citations,
    )
    question = _question(messages)
    outcomes = [await _outcome(a, question, seen, judge) for a in step.assertions]
    if step.expected_output:
        outcomes.append(await _expected(step, question, seen, judge))
    return _record(step, seen, None, outcomes), reply.answer


def _question(messages: list[ChatMessage]) -> str:
    """What the judge reads as the question: the step's prompt, after the conversation
    before it (a later step's question often means nothing alone)."""
    *before, last = messages
    if not before:
        return last.text
    earlier = "\n".join(f"{m.role.capitalize()}: {m.text}" for m in before)
    return f"(Earlier in the conversation:\n{earlier})\n{last.text}"


async def _outcome(
    assertion: Any, question: str, seen: Observation, judge: Judge | None
) -> Outcome:
    if not isinstance(assertion, LlmJudge):
        return check(assertion, seen)
    verdict = await _judged(judge, question, seen.answer, criteria(rubric=assertion.rubric))
    if isinstance(verdict, Outcome):
        return Outcome("llm_judge", describe(assertion), False, verdict.detail)
    passed = verdict.passed and (
        assertion.min_score is None or verdict.score >= assertion.min_score
    )
    return Outcome("llm_judge", describe(assertion), passed, verdict.reason, verdict.score)


async def _expected(
    step: TestStep, question: str, seen: Observation, judge: Judge | None
) -> Outcome:
    name = "expected output"
    verdict = await _judged(judge, question, seen.answer, criteria(expected=step.expected_output))
    if isinstance(verdict, Outcome):
        return Outcome("expected_output", name, False, verdict.detail)
    return Outcome("expected_output", name, verdict.passed, verdict.reason, verdict.score)


async def _judged(judge: Judge | None, question: str, answer: str, wanted: str) -> Any:
    """The judge's verdict, or an Outcome saying why there is none."""
    if judge is None:
        return Outcome("llm_judge", "", False, "no judge model")
    try:
        return await judge.judge(question=question, answer=answer, criteria=wanted)
    except (JudgeFailed, NoAnswer) as exc:
        return Outcome("llm_judge", "", False, f"no verdict: {exc}")


def _record(
    step: TestStep, seen: Observation | None, error: str | None, outcomes: list[Outcome]
) -> dict[str, Any]:
    return {
        "prompt": step.prompt,
        "answer": seen.answer[:MAX_ANSWER] if seen else None,
        "latency_ms": round(seen.latency_ms, 1) if seen else None,
        "prompt_tokens": seen.prompt_tokens if seen else 0,
        "completion_tokens": seen.completion_tokens if seen else 0,
        "api_calls": [_call(c) for c in seen.api_calls] if seen else [],
        "error": error,
        "passed": error is None and all(o.passed for o in outcomes),
        "assertions": [o.to_dict() for o in outcomes],
    }


def _call(call: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("api", "operation", "status", "error", "arguments", "response")
    kept = {k: call[k] for k in keep if k in call}
    if "response" in kept and len(json.dumps(kept["response"])) > MAX_RECORDED:
        kept["response"] = None  # too large to keep as a test's fixed response
    return kept
