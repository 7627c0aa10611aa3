"""Eval cases without a server: the assertions of each type (as the spec reads them), fixed
API responses, the judge with a scripted model, its calibration maths, a case's steps, and
cases made from rated conversations."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from homeport.apps.cases import Assertion, TestSpec, TestStep
from homeport.domain.chat import ChatMessage, ChatRequest, ChatResult, CompletionRequest, Usage
from homeport.evals.checks import Observation, check, describe
from homeport.evals.feedback import add_cases, cases_from_feedback, cases_yaml
from homeport.evals.judge import (
    VERDICT_SCHEMA,
    Judge,
    JudgeFailed,
    agreement,
    calibration_set,
    parse_verdict,
)
from homeport.evals.recording import declare_responses, recorded_responses
from homeport.evals.runner import NoAnswer, Reply, fixed_responses, run_case
from homeport.tools.fixed import ApiEnvironment, FixedResponses
from homeport.tools.strategies import Model

pytestmark = pytest.mark.anyio

ASSERTION: TypeAdapter[Assertion] = TypeAdapter(Assertion)


def assertion(data: Any) -> Assertion:
    """An assertion as a spec's step reads it (short forms too)."""
    return TestStep.model_validate({"prompt": "p", "assertions": [data]}).assertions[0]


def verdict_of(data: Any, seen: Observation) -> tuple[bool, str]:
    outcome = check(assertion(data), seen)
    return outcome.passed, outcome.detail


ANSWER = Observation(
    answer="The capital of France is Paris.",
    latency_ms=850.0,
    prompt_tokens=40,
    completion_tokens=9,
    api_calls=[
        {
            "api": "jobs",
            "operation": "listJobs",
            "status": 200,
            "arguments": {"location": "Bristol"},
        }
    ],
    citations=[
        {"index": 1, "source": "handbook.md", "title": "Handbook", "url": None, "cited": True},
        {"index": 2, "source": "https://brekka.example/faq", "title": "FAQ", "cited": False},
    ],
)


@pytest.mark.parametrize(
    ("data", "passed"),
    [
        ({"contains": "Paris"}, True),
        ({"type": "contains", "value": "paris"}, False),
        ({"type": "contains", "value": "paris", "ignore_case": True}, True),
        ({"not_contains": "London"}, True),
        ({"not_contains": "Paris"}, False),
        ({"regex": r"\bParis\b"}, True),
        ({"regex": r"^Paris"}, False),
        ({"type": "regex", "pattern": "^the", "ignore_case": True}, True),
        ({"equals": "  The capital of France is Paris. "}, True),
        ({"equals": "Paris"}, False),
        ({"type": "tool_called", "operation": "listJobs"}, True),
        (
            {"type": "tool_called", "operation": "listJobs", "arguments": {"location": "bristol"}},
            True,
        ),
        (
            {"type": "tool_called", "operation": "listJobs", "arguments": {"location": "Leeds"}},
            False,
        ),
        ({"type": "tool_called", "operation": "listJobs", "api": "other"}, False),
        ({"tool_called": "getJob"}, False),
        ({"type": "tool_called"}, True),
        ({"no_tool_called": None}, False),
        ({"cites": "handbook"}, True),
        ({"cites": "faq"}, False),
        ({"cites": "pricing"}, False),
        ({"latency": 1000}, True),
        ({"type": "latency", "max_ms": 500}, False),
        ({"tokens": 9}, True),
        ({"tokens": 8}, False),
        ({"type": "tokens", "max": 48, "count": "total"}, False),
        ({"type": "tokens", "max": 49, "count": "total"}, True),
    ],
)
def test_each_rule_assertion(data: Any, passed: bool) -> None:
    assert verdict_of(data, ANSWER)[0] is passed


def test_json_answers_are_checked_against_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city"],
    }
    rule = {"type": "json_schema", "schema": schema}

    assert verdict_of(rule, Observation('{"city": "Paris"}')) == (True, "valid")
    fenced = Observation('Here you are:\n```json\n{"city": "Paris", "population": 2}\n```')
    assert verdict_of(rule, fenced)[0] is True
    wrong = verdict_of(rule, Observation('{"city": "Paris", "population": "lots"}'))
    assert wrong[0] is False and wrong[1].startswith("population:")
    assert verdict_of(rule, Observation("Paris"))[1].startswith("not JSON")


def test_details_and_names_say_what_happened() -> None:
    assert verdict_of({"cites": "faq"}, ANSWER)[1] == (
        "'faq' was retrieved but the answer does not cite it"
    )
    assert verdict_of({"tool_called": "getJob"}, ANSWER)[1] == "not called (calls made: listJobs)"
    assert describe(assertion({"contains": "Paris"})) == "contains 'Paris'"
    assert describe(assertion({"type": "latency", "max_ms": 2000, "name": "fast"})) == "fast"
    with pytest.raises(TypeError):
        check(assertion({"type": "llm_judge", "rubric": "r"}), ANSWER)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "contains"}, "value"),
        ({"regex": "("}, "not a regular expression"),
        ({"type": "json_schema", "schema": {"type": "nope"}}, "not a JSON Schema"),
        ({"type": "latency", "max_ms": 0}, "greater than 0"),
        ({"type": "llm_judge", "rubric": "r", "min_score": 6}, "less than or equal to 5"),
        ({"type": "sounds_good"}, "sounds_good"),
        ({"contains": "x", "value": "y"}, "type"),
    ],
)
def test_malformed_assertions_are_refused(data: Any, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        assertion(data)
    assert message in str(caught.value)


# -- fixed API responses -------------------------------------------------------------------------


def test_fixed_responses_match_operation_api_and_arguments() -> None:
    test = TestSpec.model_validate(
        {
            "name": "t",
            "steps": [{"prompt": "p"}],
            "api_responses": [
                {"operation": "listJobs", "when": {"location": "Bristol"}, "body": [{"id": 1}]},
                {"operation": "listJobs", "body": []},
                {"operation": "getJob", "api": "hr", "status": 404, "body": "gone"},
            ],
        }
    )
    fixed = fixed_responses(test)
    assert isinstance(fixed, FixedResponses)

    bristol = fixed.find("jobs", "listJobs", {"location": "bristol", "limit": 5})
    anywhere = fixed.find("jobs", "listJobs", {"location": "Leeds"})
    assert bristol is not None and json.loads(bristol.fetched("http://x/jobs").data) == [{"id": 1}]
    assert anywhere is not None and anywhere.body == []
    gone = fixed.find("hr", "getJob", {})
    assert gone is not None and gone.fetched("http://x").content_type == "text/plain"
    assert fixed.find("other", "getJob", {}) is None and fixed.declared("hr", "getJob")
    assert (
        fixed_responses(TestSpec.model_validate({"name": "t", "steps": [{"prompt": "p"}]})) is None
    )


# -- the judge ------------------------------------------------------------------------------------


class ScriptedModel:
    """A model that answers from a queue and records what it was asked."""

    def __init__(self, *replies: str, base: bool = False) -> None:
        self.replies = deque(replies)
        self.asked: list[ChatRequest | CompletionRequest] = []
        self.model = Model("judge", base, self.chat, self.complete)

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.asked.append(request)
        return ChatResult(self.replies.popleft(), "stop", Usage(10, 5))

    async def complete(self, request: CompletionRequest) -> ChatResult:
        self.asked.append(request)
        return ChatResult(self.replies.popleft(), "stop", Usage(10, 5))


async def test_the_judge_asks_for_a_verdict_in_the_schema() -> None:
    scripted = ScriptedModel('{"reason": "names Paris", "score": 5, "pass": true}')

    verdict = await Judge(scripted.model).judge(
        question="Capital of France?", answer="Paris.", criteria="Names Paris."
    )

    assert (verdict.passed, verdict.score, verdict.reason) == (True, 5, "names Paris")
    (asked,) = scripted.asked
    assert isinstance(asked, ChatRequest)
    assert asked.response_format is not None and asked.response_format.schema == VERDICT_SCHEMA
    assert asked.params.temperature == 0
    prompt = asked.messages[0].text
    assert "Answer:\nParis." in prompt and "Criteria:\nNames Paris." in prompt


async def test_a_base_model_judges_by_completion() -> None:
    scripted = ScriptedModel('{"reason": "", "score": 1, "pass": false}', base=True)

    verdict = await Judge(scripted.model).judge(question="q", answer="a", criteria="c")

    assert verdict.passed is False and isinstance(scripted.asked[0], CompletionRequest)


def test_verdicts_that_do_not_parse_are_failures_not_guesses() -> None:
    with pytest.raises(JudgeFailed):
        parse_verdict("yes")
    with pytest.raises(JudgeFailed):
        parse_verdict('{"reason": "x", "score": 3}')
    assert parse_verdict('{"reason": "x", "score": 9, "pass": true}').score == 5
    with pytest.raises(ValueError, match="no judge prompt"):
        Judge(ScriptedModel().model, prompt="judge-v0")


def test_agreement_and_kappa() -> None:
    labels = [True, True, False, False]
    assert agreement(labels, labels).kappa == 1.0
    perfect_wrong = agreement(labels, [False, False, True, True])
    assert (perfect_wrong.agreed, perfect_wrong.kappa) == (0, -1.0)
    always_yes = agreement(labels, [True, True, True, True])
    assert (always_yes.rate, always_yes.kappa) == (0.5, 0.0)  # no better than chance
    missing = agreement(labels, [True, None, False, False])
    assert missing.agreed == 3
    items = calibration_set()
    assert len(items) >= 20 and sum(i.label for i in items) * 2 == len(items)


# -- a case's steps -----------------------------------------------------------------------------


async def test_steps_share_a_conversation_and_a_failure_stops_the_case() -> None:
    test = TestSpec.model_validate(
        {
            "name": "t",
            "steps": [
                {"prompt": "Hello", "assertions": [{"contains": "Hi"}]},
                {"prompt": "Again", "assertions": [{"contains": "Hi"}]},
                {"prompt": "Never asked"},
            ],
        }
    )
    asked: list[list[ChatMessage]] = []
    replies = deque([Reply("Hi there", completion_tokens=2), NoAnswer("the provider is down")])

    async def ask(messages: list[ChatMessage], environment: ApiEnvironment) -> Reply:
        asked.append(messages)
        reply = replies.popleft()
        if isinstance(reply, NoAnswer):
            raise reply
        return reply

    passed, steps = await run_case(test, ask, judge=None)

    assert passed is False and len(steps) == 2
    assert [m.role for m in asked[1]] == ["user", "assistant", "user"]
    assert steps[0]["passed"] is True and steps[0]["completion_tokens"] == 2
    assert steps[1] == {
        "prompt": "Again",
        "answer": None,
        "latency_ms": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "api_calls": [],
        "error": "the provider is down",
        "passed": False,
        "assertions": [],
    }


async def test_a_judged_step_without_a_judge_fails_with_the_reason() -> None:
    test = TestSpec.model_validate(
        {"name": "t", "steps": [{"prompt": "Hi", "expected_output": "A greeting."}]}
    )

    async def ask(messages: list[ChatMessage], environment: ApiEnvironment) -> Reply:
        return Reply("Hello!")

    passed, steps = await run_case(test, ask, judge=None)

    assert passed is False
    assert steps[0]["assertions"] == [
        {
            "type": "expected_output",
            "name": "expected output",
            "passed": False,
            "detail": "no judge model",
            "score": None,
        }
    ]


# -- cases from feedback ------------------------------------------------------------------------

DOWN = {
    "id": "fb_0000000000000001",
    "rating": "down",
    "comment": "It never asked for my order number.",
    "conversation": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "How do I get a refund?"},
        {"role": "assistant", "content": "Refunds are possible."},
    ],
}
UP = {
    "id": "fb_0000000000000002",
    "rating": "up",
    "comment": None,
    "conversation": [
        {"role": "user", "content": "Opening hours?"},
        {"role": "assistant", "content": "9:00 to 17:30."},
    ],
}


def test_rated_conversations_become_cases() -> None:
    down, up = cases_from_feedback([UP, DOWN])  # newest first, as the API lists them

    assert [s["prompt"] for s in down["steps"]] == ["Hi", "How do I get a refund?"]
    assert down["steps"][-1]["assertions"] == [
        {
            "type": "llm_judge",
            "rubric": "The answer avoids the problem a user reported with an earlier one: "
            "It never asked for my order number.",
        }
    ]
    assert up["steps"] == [{"prompt": "Opening hours?", "expected_output": "9:00 to 17:30."}]
    for case in (down, up):
        TestSpec.model_validate(case)  # valid tests
    assert "tests:" in cases_yaml([down])


def test_cases_are_added_to_the_app_file_keeping_its_comments(tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text(
        "# The support app\napiVersion: app.aispec.org/v1alpha1\nkind: AIApp\n"
        "metadata:\n  name: support\nspec:\n  assistants:\n"
        "    - system_prompt: Be brief.  # short answers\n"
    )
    cases = cases_from_feedback([DOWN])

    assert add_cases(app, cases) == 1
    assert add_cases(app, cases) == 0  # already there

    text = app.read_text()
    assert "# The support app" in text and "# short answers" in text
    from homeport.cli.resources import load_resources

    (loaded,) = load_resources([str(app)])
    assert loaded["spec"]["assistants"][0]["tests"][0]["name"] == "feedback-00000001"


async def test_the_judge_reads_a_later_step_with_the_conversation_before_it() -> None:
    test = TestSpec.model_validate(
        {
            "name": "t",
            "steps": [
                {"prompt": "How long does delivery take?"},
                {"prompt": "And to Tindholm?", "assertions": [{"llm_judge": "Gives a time."}]},
            ],
        }
    )
    replies = deque([Reply("3 to 5 working days."), Reply("A day more: 4 to 6.")])

    async def ask(messages: list[ChatMessage], environment: ApiEnvironment) -> Reply:
        return replies.popleft()

    scripted = ScriptedModel('{"reason": "a time", "score": 5, "pass": true}')
    passed, _ = await run_case(test, ask, Judge(scripted.model))

    assert passed is True
    (asked,) = scripted.asked
    assert isinstance(asked, ChatRequest)
    assert (
        "Question:\n(Earlier in the conversation:\nUser: How long does delivery take?\n"
        "Assistant: 3 to 5 working days.)\nAnd to Tindholm?\n\nAnswer:\nA day more: 4 to 6."
    ) in asked.messages[0].text


def test_recorded_responses_are_declared_per_test_once_each(tmp_path: Path) -> None:
    call = {"api": "hr", "operation": "getJob", "arguments": {"jobId": "eng-4"}}
    gone = {**call, "arguments": {"jobId": "x"}, "response": {"status": 404, "body": None}}
    found = {**call, "response": {"status": 200, "body": {"title": "Data engineer"}}}
    run = {
        "results": [
            {"case": "jobs/eng", "sample": 0, "passed": False, "steps": [{"api_calls": [gone]}]},
            {"case": "jobs/eng", "sample": 1, "passed": True, "steps": [
                {"api_calls": [found, found, {**call, "response": None}]},
                {"api_calls": [gone]},
            ]},
            {"case": "chat/hello", "sample": 0, "passed": True, "steps": [{"api_calls": []}]},
        ]
    }  # fmt: skip
    app = tmp_path / "app.yaml"
    app.write_text(
        "assistants:\n"
        "  - id: jobs\n    tests: [{name: eng, steps: [{prompt: Tell me about eng-4}]}]\n"
        "  - id: chat\n    tests: [{name: hello, steps: [{prompt: hi}]}]\n"
    )

    recorded = recorded_responses(run)
    changed = declare_responses(app, recorded)

    engineer = {"title": "Data engineer"}
    assert recorded["jobs/eng"] == [
        {"operation": "getJob", "api": "hr", "when": {"jobId": "eng-4"}, "body": engineer},
        {"operation": "getJob", "api": "hr", "when": {"jobId": "x"}, "status": 404, "body": None},
    ]
    assert changed == ["jobs/eng"] and recorded["chat/hello"] == []
    declared = TestSpec.model_validate(
        yaml.safe_load(app.read_text())["assistants"][0]["tests"][0]
    ).api_responses
    assert [(r.operation, r.status) for r in declared] == [("getJob", 200), ("getJob", 404)]
