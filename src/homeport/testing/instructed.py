"""A fake model that follows its system prompt's rules, for showing evals catch regressions.

A system prompt line of the form

    When asked about refunds, answer: Send us your order number and we refund within 14 days.

makes the model answer that text whenever the last user message mentions every word of the
topic (any case); with no rule that matches it answers "I don't know." A change to the
prompt changes the answers, the same way every time, which a small real model cannot show
reliably. Serve it with `python -m homeport.testing.instructed --port 9100` and add it as an
OpenAI-compatible provider.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Mapping
from typing import Any

from homeport.testing.fake_openai import FakeOpenAI
from homeport.testing.scripting import content_text, last_user_text, messages_of

MODEL = "instructed"
UNKNOWN = "I don't know."
_RULE = re.compile(r"^\s*When asked about (?P<topic>.+?), (?:answer|say):\s*(?P<answer>.+)$")
_WORD = re.compile(r"\w+")


def rules(system_prompt: str) -> list[tuple[set[str], str]]:
    """(topic words, answer) for each rule line, in order."""
    found = []
    for line in system_prompt.splitlines():
        match = _RULE.match(line)
        if match:
            words = set(_WORD.findall(match["topic"].casefold()))
            found.append((words, match["answer"].strip()))
    return found


def follows_system_prompt(body: Mapping[str, Any]) -> str:
    """The answer the system prompt's first matching rule gives to the last user message."""
    messages = messages_of(body)
    system = "\n".join(
        content_text(m.get("content")) for m in messages if m.get("role") == "system"
    )
    asked = set(_WORD.findall(last_user_text(messages).casefold()))
    return next((answer for words, answer in rules(system) if words <= asked), UNKNOWN)


def instructed_model(models: tuple[str, ...] = (MODEL,)) -> FakeOpenAI:
    fake = FakeOpenAI(models=list(models))
    fake.responder = follows_system_prompt
    return fake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    with instructed_model().serve(port=args.port) as server:
        print(f"model {MODEL!r} at {server.url}/v1", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
