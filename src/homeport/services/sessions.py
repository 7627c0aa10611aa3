"""Chat sessions: stored conversations, and chatting in them.

A turn is written in two steps. The user's message is stored once the model has accepted
the request; the assistant's message is stored once, when generation ends, with its status:
`complete`, `error` (with the error) or `cancelled` (with what was generated). Nothing
unfinished is ever stored as complete, and failed turns are left out of later prompts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

from homeport.db.engine import Database
from homeport.db.repositories import ChatSessionRepository
from homeport.domain.chat import ChatDelta, ChatMessage, ChatRequest, SamplingParams, Usage
from homeport.domain.models import ModelInfo
from homeport.domain.sessions import ChatSession, StoredMessage
from homeport.domain.users import Principal
from homeport.errors import HomeportError, NotFound, ValidationFailed
from homeport.services.inference import InferenceService

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60


@dataclass(slots=True)
class Turn:
    """A started turn: the model answering, the stored user message, the answer's events."""

    session: ChatSession
    model: ModelInfo
    user_message: StoredMessage
    events: AsyncIterator[ChatDelta]
    result: list[StoredMessage] = field(default_factory=list)

    @property
    def assistant_message(self) -> StoredMessage | None:
        return self.result[0] if self.result else None


class SessionService:
    def __init__(self, db: Database, inference: InferenceService):
        self.db = db
        self.inference = inference

    async def create(
        self,
        principal: Principal,
        *,
        title: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> ChatSession:
        async with self.db.transaction() as session:
            return await ChatSessionRepository(session).add(
                user_id=principal.user_id,
                title=(title or "").strip()[:200] or DEFAULT_TITLE,
                model=model,
                system_prompt=system_prompt,
            )

    async def page(
        self, principal: Principal, *, limit: int, after: str | None
    ) -> tuple[list[ChatSession], bool]:
        async with self.db.transaction() as session:
            return await ChatSessionRepository(session).page(
                user_id=principal.user_id, limit=limit, after=after
            )

    async def get(
        self, principal: Principal, session_id: str
    ) -> tuple[ChatSession, list[StoredMessage]]:
        async with self.db.transaction() as session:
            repo = ChatSessionRepository(session)
            found = await repo.get(session_id, user_id=principal.user_id)
            if found is None:
                raise NotFound(f"no session '{session_id}'", param="session_id")
            return found, await repo.messages(session_id)

    async def update(
        self, principal: Principal, session_id: str, *, title: str | None, model: str | None
    ) -> ChatSession:
        values: dict[str, str] = {}
        if title is not None:
            if not title.strip():
                raise ValidationFailed("title must not be empty", param="title")
            values["title"] = title.strip()[:200]
        if model is not None:
            values["model"] = model
        async with self.db.transaction() as session:
            updated = await ChatSessionRepository(session).update(
                session_id, user_id=principal.user_id, **values
            )
        if updated is None:
            raise NotFound(f"no session '{session_id}'", param="session_id")
        return updated

    async def delete(self, principal: Principal, session_id: str) -> None:
        async with self.db.transaction() as session:
            if not await ChatSessionRepository(session).delete(
                session_id, user_id=principal.user_id
            ):
                raise NotFound(f"no session '{session_id}'", param="session_id")

    async def start_turn(
        self,
        principal: Principal,
        session_id: str,
        *,
        content: str,
        model: str | None = None,
        params: SamplingParams | None = None,
    ) -> Turn:
        """Validate, start the model, store the user's message; the caller drains `events`."""
        if not content.strip():
            raise ValidationFailed("content must not be empty", param="content")
        chat_session, history = await self.get(principal, session_id)
        request = ChatRequest(
            model=model or chat_session.model or "",
            messages=_prompt(chat_session, history, content),
            params=params or SamplingParams(),
            user=principal.user_id,
        )
        stream = await self.inference.chat_stream(principal, request)
        async with self.db.transaction() as session:
            repo = ChatSessionRepository(session)
            user_message = await repo.add_message(session_id, role="user", content=content)
            if chat_session.title == DEFAULT_TITLE and not history:
                await repo.update(session_id, user_id=principal.user_id, title=_title(content))
        turn = Turn(chat_session, stream.model, user_message, events=stream.events)
        turn.events = self._record(turn, stream.events)
        return turn

    async def _record(
        self, turn: Turn, events: AsyncIterator[ChatDelta]
    ) -> AsyncIterator[ChatDelta]:
        started = time.monotonic()
        first_token: float | None = None
        parts: list[str] = []
        usage, finish, status, error = Usage(), None, "cancelled", None
        try:
            async for delta in events:
                if delta.content:
                    first_token = first_token or time.monotonic()
                    parts.append(delta.content)
                usage = delta.usage or usage
                finish = delta.finish_reason or finish
                yield delta
            status = "complete"
        except HomeportError as exc:
            status, error = "error", exc.message
            raise
        except Exception as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            await _uncancellable(
                self._store_answer(
                    turn,
                    content="".join(parts),
                    status=status,
                    error=error,
                    usage=usage,
                    finish=finish,
                    ttft=_millis(started, first_token),
                    duration=_millis(started, time.monotonic()),
                )
            )

    async def _store_answer(
        self,
        turn: Turn,
        *,
        content: str,
        status: str,
        error: str | None,
        usage: Usage,
        finish: str | None,
        ttft: int | None,
        duration: int | None,
    ) -> None:
        async with self.db.transaction() as session:
            stored = await ChatSessionRepository(session).add_message(
                turn.session.id,
                role="assistant",
                content=content,
                status=status,
                error=error,
                model=turn.model.id,
                prompt_tokens=usage.prompt_tokens or None,
                completion_tokens=usage.completion_tokens or None,
                time_to_first_token_ms=ttft,
                duration_ms=duration,
                finish_reason=finish if status == "complete" else status,
                reply_to=turn.user_message.id,
            )
        turn.result.append(stored)


_finishing: set[asyncio.Task[None]] = set()


async def _uncancellable(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` in a task of its own, so that cancelling the caller (a client that went
    away) cannot cut it short; the caller waits for it unless it is cancelled again."""
    task = asyncio.create_task(work)
    _finishing.add(task)
    task.add_done_callback(_finishing.discard)
    await asyncio.shield(task)


def _prompt(
    chat_session: ChatSession, history: list[StoredMessage], content: str
) -> list[ChatMessage]:
    messages = (
        [ChatMessage("system", chat_session.system_prompt)] if chat_session.system_prompt else []
    )
    for stored in _answered(history):
        messages.append(ChatMessage(stored.role, stored.content))
    messages.append(ChatMessage("user", content))
    return messages


def _answered(history: list[StoredMessage]) -> list[StoredMessage]:
    """Questions with their complete answers, in order: failed or cancelled turns are not
    replayed, and turns that ran at the same time still pair up (answers name their question)."""
    answers = {m.reply_to: m for m in history if m.role == "assistant" and m.status == "complete"}
    kept: list[StoredMessage] = []
    for message in history:
        if message.role == "user" and message.id in answers:
            kept += [message, answers[message.id]]
    return kept


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _millis(start: float, end: float | None) -> int | None:
    return None if end is None else int((end - start) * 1000)
