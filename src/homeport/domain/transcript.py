"""Prompting a base (not chat-tuned) model as a plain-text transcript.

A base model has no chat template: it continues text. So a conversation is written out as
a transcript with a short preamble and a few worked examples, and generation stops when the
model starts writing the next speaker's turn.
"""

from __future__ import annotations

from collections.abc import Sequence

from homeport.domain.chat import ChatMessage

USER = "Question"
ASSISTANT = "Answer"

PREAMBLE = (
    "The following is a conversation with a helpful assistant. "
    "The assistant answers correctly and concisely."
)

EXAMPLES: tuple[tuple[str, str], ...] = (
    ("What is the capital of Italy?", "The capital of Italy is Rome."),
    ("How many days are in a week?", "There are seven days in a week."),
)

STOP = (f"\n{USER}:", f"\n{ASSISTANT}:", "\n\n\n")


def render_transcript(messages: Sequence[ChatMessage]) -> str:
    """The prompt for a base model: preamble (or system prompt), examples, the turns."""
    system = "\n".join(m.text for m in messages if m.role in ("system", "developer"))
    lines = [system.strip() or PREAMBLE, ""]
    for question, answer in EXAMPLES:
        lines += [f"{USER}: {question}", f"{ASSISTANT}: {answer}"]
    for message in messages:
        if message.role == "user":
            lines.append(f"{USER}: {message.text.strip()}")
        elif message.role == "assistant" and message.text:
            lines.append(f"{ASSISTANT}: {message.text.strip()}")
        elif message.role == "tool":
            lines.append(f"Data: {message.text.strip()}")
    lines.append(f"{ASSISTANT}:")
    return "\n".join(lines)


def stop_sequences(extra: Sequence[str] = ()) -> list[str]:
    return list(dict.fromkeys([*STOP, *extra]))
