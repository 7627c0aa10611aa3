"""The LLM judge: a model reads an answer against criteria and returns a verdict.

Any model Homeport serves can judge. Its output is constrained to `VERDICT_SCHEMA` (the
grammar of the embedded engine, `response_format` elsewhere), so a verdict always parses
when the model finishes. Prompts are versioned: a run records the version it judged with,
and a changed prompt is a new version, so pass rates stay comparable across runs. The
calibration set (`calibration.yaml`) measures how often a judge agrees with labels people
gave.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from homeport.errors import UpstreamError
from homeport.tools.strategies import Model, constrained

MAX_REASON = 300
JUDGE_TOKENS = 256

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "maxLength": MAX_REASON},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "pass": {"type": "boolean"},
    },
    "required": ["reason", "score", "pass"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class JudgePrompt:
    version: str
    text: str  # str.format fields: question, answer, criteria

    def render(self, *, question: str, answer: str, criteria: str) -> str:
        return self.text.format(question=question, answer=answer, criteria=criteria)


JUDGE_V1 = JudgePrompt(
    "judge-v1",
    "You grade an AI assistant's answer. Decide whether the answer meets the criteria.\n"
    "Give a one-sentence reason, a score from 1 (fails completely) to 5 (fully meets "
    "the criteria), and pass: true only when the criteria are met.\n\n"
    "Question:\n{question}\n\n"
    "Answer:\n{answer}\n\n"
    "Criteria:\n{criteria}\n\n"
    "Verdict as JSON:\n",
)
PROMPTS = {prompt.version: prompt for prompt in (JUDGE_V1,)}
DEFAULT_PROMPT = JUDGE_V1.version


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    score: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"pass": self.passed, "score": self.score, "reason": self.reason}


class JudgeFailed(UpstreamError):
    """The judge gave no verdict: its output did not parse."""


def criteria(*, rubric: str | None = None, expected: str | None = None) -> str:
    """What the answer is judged against: a rubric, or a reference answer (Helix's
    `expected_output`)."""
    if rubric:
        return rubric
    return f"The answer gives the same information as this reference answer: {expected}"


class Judge:
    def __init__(self, model: Model, prompt: str = DEFAULT_PROMPT) -> None:
        if prompt not in PROMPTS:
            raise ValueError(f"no judge prompt {prompt!r} (known: {', '.join(PROMPTS)})")
        self.model = model
        self.prompt = PROMPTS[prompt]

    async def judge(self, *, question: str, answer: str, criteria: str) -> Verdict:
        text = self.prompt.render(question=question, answer=answer, criteria=criteria)
        reply = await constrained(self.model, text, VERDICT_SCHEMA, max_tokens=JUDGE_TOKENS)
        return parse_verdict(reply)


def parse_verdict(reply: str) -> Verdict:
    try:
        data = json.loads(reply)
    except ValueError:
        raise JudgeFailed(f"the judge's verdict is not JSON: {reply[:200]!r}") from None
    if not isinstance(data, dict) or not isinstance(data.get("pass"), bool):
        raise JudgeFailed(f"the judge's verdict has no pass: {reply[:200]!r}")
    score = data.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        score = 5 if data["pass"] else 1
    return Verdict(data["pass"], score, str(data.get("reason") or "")[:MAX_REASON])


# -- calibration --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Labelled:
    """An answer people judged: whether it meets the criteria."""

    question: str
    answer: str
    criteria: str
    label: bool


def calibration_set() -> list[Labelled]:
    """The labelled answers shipped with Homeport (`calibration.yaml`)."""
    text = resources.files("homeport.evals").joinpath("calibration.yaml").read_text()
    return [
        Labelled(item["question"], item["answer"], item["criteria"], bool(item["pass"]))
        for item in yaml.safe_load(text)["items"]
    ]


@dataclass(frozen=True, slots=True)
class Agreement:
    agreed: int
    total: int
    kappa: float  # Cohen's kappa: agreement beyond what chance gives

    @property
    def rate(self) -> float:
        return self.agreed / self.total if self.total else 0.0


def agreement(labels: Sequence[bool], verdicts: Sequence[bool | None]) -> Agreement:
    """How often the judge agreed with the labels (no verdict counts as disagreeing)."""
    pairs = list(zip(labels, verdicts, strict=True))
    total = len(pairs)
    agreed = sum(1 for label, verdict in pairs if verdict is not None and label == verdict)
    if total == 0:
        return Agreement(0, 0, 0.0)
    observed = agreed / total
    label_yes = sum(labels) / total
    judge_yes = sum(1 for v in verdicts if v) / total
    chance = label_yes * judge_yes + (1 - label_yes) * (1 - judge_yes)
    kappa = 1.0 if chance == 1 else (observed - chance) / (1 - chance)
    return Agreement(agreed, total, kappa)
