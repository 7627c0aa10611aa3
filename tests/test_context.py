"""Fitting conversations into a model's context, and the base-model transcript."""

from __future__ import annotations

import pytest

from homeport.domain.chat import ChatMessage
from homeport.domain.context import PER_MESSAGE_OVERHEAD, trim_to_context
from homeport.domain.models import split_model_id
from homeport.domain.transcript import render_transcript, stop_sequences
from homeport.errors import ContextLengthExceeded


def words(text: str) -> int:
    return len(text.split())


def turn(role: str, n: int, tag: str = "") -> ChatMessage:
    return ChatMessage(role, " ".join([tag or role] * n))


def test_a_conversation_that_fits_is_untouched() -> None:
    messages = [turn("system", 5), turn("user", 10), turn("assistant", 10), turn("user", 10)]
    assert trim_to_context(messages, budget=100, count_tokens=words) == messages


def test_the_oldest_turns_go_first_and_the_system_prompt_stays() -> None:
    messages = [
        turn("system", 5),
        turn("user", 30, "old"),
        turn("assistant", 30, "old"),
        turn("user", 10, "recent"),
        turn("assistant", 10, "recent"),
        turn("user", 10, "new"),
    ]
    budget = 5 + 10 * 3 + 4 * PER_MESSAGE_OVERHEAD
    kept = trim_to_context(messages, budget=budget, count_tokens=words)
    assert [m.role for m in kept] == ["system", "user", "assistant", "user"]
    assert "old" not in " ".join(m.text for m in kept)
    assert kept[-1].text.startswith("new")


def test_tool_results_leave_with_the_turn_that_asked_for_them() -> None:
    messages = [
        turn("user", 20, "old"),
        ChatMessage("assistant", None, tool_calls=[{"id": "1"}]),
        ChatMessage("tool", "result " * 20, tool_call_id="1"),
        turn("user", 5, "new"),
    ]
    kept = trim_to_context(messages, budget=20, count_tokens=words)
    assert [m.role for m in kept] == ["user"]


def test_a_newest_message_too_long_is_refused_not_cut() -> None:
    with pytest.raises(ContextLengthExceeded):
        trim_to_context([turn("system", 5), turn("user", 500)], budget=100, count_tokens=words)


def test_the_transcript_ends_where_the_model_should_answer() -> None:
    prompt = render_transcript(
        [
            ChatMessage("system", "You are terse."),
            ChatMessage("user", "Hi"),
            ChatMessage("assistant", "Hello."),
            ChatMessage("user", "Capital of France?"),
        ]
    )
    assert prompt.startswith("You are terse.")
    assert prompt.endswith("Question: Capital of France?\nAnswer:")
    assert "Answer: Hello." in prompt
    assert "\nQuestion:" in stop_sequences()


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("openai/gpt-4o", ("openai", "gpt-4o")),
        ("together/meta-llama/Llama-3-8b", ("together", "meta-llama/Llama-3-8b")),
        ("gpt-4o", (None, "gpt-4o")),
    ],
)
def test_model_ids_split_at_the_first_slash(
    model_id: str, expected: tuple[str | None, str]
) -> None:
    assert split_model_id(model_id) == expected
