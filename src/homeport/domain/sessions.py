"""Chat sessions and the messages stored in them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

MessageStatus = Literal["complete", "error", "cancelled"]


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


@dataclass(frozen=True, slots=True)
class ChatSession:
    id: str
    user_id: str
    title: str
    model: str | None
    system_prompt: str | None
    created_at: datetime
    updated_at: datetime
