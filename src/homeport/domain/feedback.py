"""Feedback on answers: a user's thumbs up or down, with an optional comment, on an assistant
message of their chat session, kept with what answered (model, app and app version) so app
builders can turn bad answers into eval cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from homeport.domain.apps import parse_app_model
from homeport.domain.sessions import StoredMessage, answered_pairs

Rating = Literal["up", "down"]
COMMENT_MAX = 2000


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    message_id: str
    session_id: str
    user_id: str
    rating: Rating
    comment: str | None
    model: str | None
    app: str | None
    app_version: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Answered:
    """What answered a message: the model id (an app's without its version), the app and the
    app version when an app answered."""

    model: str | None
    app: str | None = None
    app_version: int | None = None

    @classmethod
    def of(cls, answer_model: str | None, session_model: str | None) -> Answered:
        """From the answer's stored model id (`app/<name>@<version>` when an app answered),
        else the session's."""
        model = answer_model or session_model
        target = parse_app_model(model) if model else None
        if target is None:
            return cls(model)
        suffix = f"/{target.assistant}" if target.assistant else ""
        return cls(f"{target.model_id}{suffix}", target.name, target.version)


@dataclass(frozen=True, slots=True)
class Utterance:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class RatedAnswer:
    """Feedback with the conversation up to and including the rated answer."""

    feedback: Feedback
    conversation: tuple[Utterance, ...]


def conversation_until(history: list[StoredMessage], answer_id: str) -> tuple[Utterance, ...]:
    """The conversation as the model saw it when it gave `answer_id`: the complete turns
    before its question, the question, and the answer itself (system messages left out)."""
    positions = {m.id: index for index, m in enumerate(history)}
    answer = next((m for m in history if m.id == answer_id), None)
    if answer is None:
        return ()
    question = next((m for m in history if m.id == answer.reply_to), None)
    until = positions[question.id if question else answer.id]
    earlier = [
        message
        for pair in answered_pairs(history)
        if positions[pair[0].id] < until and pair[1].id != answer.id
        for message in pair
    ]
    last = [question, answer] if question else [answer]
    return tuple(Utterance(m.role, m.content) for m in [*earlier, *last] if m.role != "system")
