"""Fitting a conversation into a model's context window, oldest turns first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from homeport.domain.chat import ChatMessage
from homeport.errors import ContextLengthExceeded

# Tokens that chat formatting adds around each message, on top of its text.
PER_MESSAGE_OVERHEAD = 4


def trim_to_context(
    messages: Sequence[ChatMessage],
    *,
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[ChatMessage]:
    """Drop the oldest non-system messages until the rest fit in `budget` tokens.

    System (and developer) messages are kept. A tool result is dropped together with the
    assistant turn that asked for it, so no orphan tool message is left at the start. If the
    newest message alone cannot fit, the conversation is rejected rather than cut mid-message.
    """
    costs = [count_tokens(m.text) + PER_MESSAGE_OVERHEAD for m in messages]
    pinned = [i for i, m in enumerate(messages) if m.role in ("system", "developer")]
    rest = [i for i in range(len(messages)) if i not in set(pinned)]
    total = sum(costs)
    while total > budget and len(rest) > 1:
        total -= costs[rest.pop(0)]
        while len(rest) > 1 and messages[rest[0]].role == "tool":
            total -= costs[rest.pop(0)]
    if total > budget:
        raise ContextLengthExceeded(
            f"This model's context is {budget} tokens for the conversation, but the messages "
            f"that must be kept need {total}. Shorten the last message or the system prompt."
        )
    keep = set(pinned) | set(rest)
    return [m for i, m in enumerate(messages) if i in keep]
