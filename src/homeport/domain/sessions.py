"""Chat sessions and the messages stored in them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

MessageStatus = Literal["complete", "error", "cancelled", "replaced"]
# An answer that a regenerated one took the place of: kept (with its feedback), never shown to
# the model again, and never regenerated or searched.
REPLACED = "replaced"


@dataclass(frozen=True, slots=True)
class Citation:
    """A source an answer was grounded in: numbered as the model saw it (`[index]`).

    `url` opens the source: the page for a web page, the stored file for an upload (at
    `#page=N` for a PDF), None for inline text. `cited` says whether the answer wrote
    `[index]`.
    """

    index: int
    source: str
    title: str | None
    section: str | None
    page: int | None
    snippet: str
    url: str | None
    knowledge_base: str
    document_id: str
    chunk_id: str
    score: float
    cited: bool = False

    @property
    def location(self) -> str | None:
        parts = [self.section, f"p. {self.page}" if self.page else None]
        return " · ".join(p for p in parts if p) or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "source": self.source,
            "title": self.title,
            "section": self.section,
            "page": self.page,
            "location": self.location,
            "snippet": self.snippet,
            "url": self.url,
            "knowledge_base": self.knowledge_base,
            "document_id": self.document_id,
            "chunk_id": self.chunk_id,
            "score": self.score,
            "cited": self.cited,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        fields = {k: v for k, v in data.items() if k != "location"}
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    id: str
    session_id: str
    role: str
    content: str
    status: str
    created_at: datetime
    error: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    time_to_first_token_ms: int | None = None
    duration_ms: int | None = None
    finish_reason: str | None = None
    reply_to: str | None = None
    citations: tuple[Citation, ...] = ()
    api_calls: tuple[dict[str, Any], ...] = ()  # an app's answer: the calls its assistant made


@dataclass(frozen=True, slots=True)
class ChatSession:
    id: str
    user_id: str
    title: str
    model: str | None
    system_prompt: str | None
    created_at: datetime
    updated_at: datetime
    knowledge: tuple[str, ...] = ()


def answered_pairs(history: list[StoredMessage]) -> list[tuple[StoredMessage, StoredMessage]]:
    """Questions with their complete answers, in order: failed or cancelled turns are left
    out, and turns that ran at the same time still pair up (answers name their question)."""
    answers = {m.reply_to: m for m in history if m.role == "assistant" and m.status == "complete"}
    return [(m, answers[m.id]) for m in history if m.role == "user" and m.id in answers]


def latest(history: list[StoredMessage]) -> StoredMessage | None:
    """The newest message of a conversation, replaced answers left out."""
    return next((m for m in reversed(history) if m.status != REPLACED), None)


MARKER = re.compile(r"\[(\d{1,3})\]")


def mark_cited(citations: Sequence[Citation], answer: str) -> tuple[Citation, ...]:
    """The citations with `cited` set for each `[n]` the answer wrote."""
    written = {int(n) for n in MARKER.findall(answer)}
    return tuple(replace(c, cited=c.index in written) for c in citations)
