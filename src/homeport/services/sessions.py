"""Chat sessions: stored conversations, and chatting in them.

A turn is written in two steps. The user's message is stored once the model has accepted
the request; the assistant's message is stored once, when generation ends, with its status:
`complete`, `error` (with the error) or `cancelled` (with what was generated). Nothing
unfinished is ever stored as complete, and failed turns are left out of later prompts.

Regenerating the session's latest answer asks its question again (`start_regenerate`). The
new answer is stored only if it completes, in the same transaction that marks the old one
`replaced`: a failed or stopped regeneration leaves the old answer as it was, and of two
regenerations of one answer at once only the first to finish is kept (the other: Conflict).
A replaced answer keeps its id and its feedback; it is never sent to the model again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from homeport.db.engine import Database
from homeport.db.repositories import ChatSessionRepository
from homeport.domain.chat import ChatDelta, ChatMessage, ChatRequest, SamplingParams, Usage
from homeport.domain.knowledge import Source
from homeport.domain.models import ModelInfo
from homeport.domain.sessions import (
    REPLACED,
    ChatSession,
    Citation,
    StoredMessage,
    answered_pairs,
    latest,
    mark_cited,
)
from homeport.domain.users import Principal
from homeport.errors import Conflict, HomeportError, InvalidRequest, NotFound, ValidationFailed
from homeport.knowledge.rerank import Rerank
from homeport.services.grounding import Grounder
from homeport.services.inference import InferenceService
from homeport.services.knowledge import KnowledgeInput, KnowledgeService

DEFAULT_TITLE = "New chat"
TITLE_LENGTH = 60


@dataclass(slots=True)
class Turn:
    """A started turn: the model answering, the stored user message, the answer's events,
    and the sources it was grounded in."""

    session: ChatSession
    model: ModelInfo
    user_message: StoredMessage
    events: AsyncIterator[ChatDelta]
    result: list[StoredMessage] = field(default_factory=list)
    citations: tuple[Citation, ...] = ()
    # What the answer adds to the `homeport` extension (an app's `api_calls`), once it ends.
    extension: dict[str, Any] = field(default_factory=dict)
    # The answer a regeneration replaces, once the new one completes.
    replaces: StoredMessage | None = None

    @property
    def assistant_message(self) -> StoredMessage | None:
        return self.result[0] if self.result else None


class SessionService:
    def __init__(self, db: Database, inference: InferenceService, knowledge: KnowledgeService):
        self.db = db
        self.inference = inference
        self.knowledge = knowledge
        model = knowledge.settings.rerank_model
        self.grounder = Grounder(knowledge, reranking=Rerank(model) if model else None)

    async def create(
        self,
        principal: Principal,
        *,
        title: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        knowledge: Sequence[str] = (),
    ) -> ChatSession:
        """A new session; `knowledge` names bases (ids or names) its answers are grounded in."""
        ids = await self._knowledge_ids(principal, knowledge)
        async with self.db.transaction() as session:
            return await ChatSessionRepository(session).add(
                user_id=principal.user_id,
                title=(title or "").strip()[:200] or DEFAULT_TITLE,
                model=model,
                system_prompt=system_prompt,
                knowledge=ids,
            )

    async def _knowledge_ids(self, principal: Principal, refs: Sequence[str]) -> list[str]:
        """Ids of the named bases; one the principal may not read is not found."""
        return list(dict.fromkeys([(await self.knowledge.get(principal, r)).id for r in refs]))

    async def page(
        self, principal: Principal, *, limit: int, after: str | None, search: str | None = None
    ) -> tuple[list[ChatSession], bool]:
        """The caller's sessions, newest first; `search` keeps those whose title or messages
        contain it (case-insensitive, taken literally)."""
        async with self.db.transaction() as session:
            return await ChatSessionRepository(session).page(
                user_id=principal.user_id, limit=limit, after=after, search=search or None
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
        self,
        principal: Principal,
        session_id: str,
        *,
        title: str | None,
        model: str | None,
        knowledge: Sequence[str] | None = None,
    ) -> ChatSession:
        values: dict[str, Any] = {}
        if knowledge is not None:
            values["knowledge"] = await self._knowledge_ids(principal, knowledge)
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
        """Delete a session, with the files attached to it."""
        await self.get(principal, session_id)
        for kb in await self.knowledge.of_session(session_id):
            await self.knowledge.delete(principal, kb.id)
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
        knowledge: Sequence[str] | None = None,
    ) -> Turn:
        """Validate, ground, start the model, store the user's message; the caller drains
        `events`. `knowledge` replaces the session's bases for this turn."""
        if not content.strip():
            raise ValidationFailed("content must not be empty", param="content")
        chat_session, history = await self.get(principal, session_id)
        kb_ids = (
            chat_session.knowledge
            if knowledge is None
            else await self._knowledge_ids(principal, knowledge)
        )
        attached = [kb.id for kb in await self.knowledge.of_session(session_id)]
        grounding = await self.grounder.ground(principal, [*kb_ids, *attached], content)
        request = ChatRequest(
            model=model or chat_session.model or "",
            messages=_prompt(chat_session, history, content, grounding.message),
            params=params or SamplingParams(),
            user=principal.user_id,
        )
        stream = await self.inference.chat_stream(principal, request)
        async with self.db.transaction() as session:
            repo = ChatSessionRepository(session)
            user_message = await repo.add_message(session_id, role="user", content=content)
            if chat_session.title == DEFAULT_TITLE and not history:
                await repo.update(session_id, user_id=principal.user_id, title=_title(content))
        turn = Turn(
            chat_session,
            stream.model,
            user_message,
            stream.events,
            citations=grounding.citations,
            extension=stream.extension,
        )
        turn.events = self._record(turn, stream.events)
        return turn

    async def start_regenerate(
        self,
        principal: Principal,
        session_id: str,
        message_id: str,
        *,
        model: str | None = None,
        params: SamplingParams | None = None,
    ) -> Turn:
        """Ask the question of the session's latest answer again, with the conversation
        before it, grounded in the session's bases; the caller drains `events`. The model is
        the old answer's unless `model` names another."""
        chat_session, history = await self.get(principal, session_id)
        old = _regenerable(history, message_id)
        question = next((m for m in history if m.id == old.reply_to), None)
        if question is None:
            raise InvalidRequest(
                f"the question of answer '{message_id}' is gone; it cannot be regenerated",
                param="message_id",
            )
        earlier = history[: history.index(question)]
        attached = [kb.id for kb in await self.knowledge.of_session(session_id)]
        grounding = await self.grounder.ground(
            principal, [*chat_session.knowledge, *attached], question.content
        )
        request = ChatRequest(
            model=model or old.model or chat_session.model or "",
            messages=_prompt(chat_session, earlier, question.content, grounding.message),
            params=params or SamplingParams(),
            user=principal.user_id,
        )
        stream = await self.inference.chat_stream(principal, request)
        turn = Turn(
            chat_session,
            stream.model,
            question,
            stream.events,
            citations=grounding.citations,
            extension=stream.extension,
            replaces=old,
        )
        turn.events = self._record(turn, stream.events)
        return turn

    async def attach_file(
        self,
        principal: Principal,
        session_id: str,
        *,
        name: str,
        content_type: str | None,
        data: bytes,
    ) -> Source:
        """Index a file for this session's answers: a knowledge base of the session."""
        await self.get(principal, session_id)
        existing = await self.knowledge.of_session(session_id)
        kb = (
            existing[0]
            if existing
            else await self.knowledge.create(
                principal, KnowledgeInput(name=f"session {session_id}"), session_id=session_id
            )
        )
        return await self.knowledge.add_file(
            principal, kb.id, name=name, content_type=content_type, data=data
        )

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
        if turn.replaces is not None and status != "complete":
            return  # a failed or stopped regeneration: the old answer stays
        citations = mark_cited(turn.citations, content)
        turn.citations = citations
        async with self.db.transaction() as session:
            repo = ChatSessionRepository(session)
            if turn.replaces is not None and not await repo.replace_answer(turn.replaces.id):
                raise Conflict(
                    f"answer '{turn.replaces.id}' was regenerated by another request meanwhile",
                    param="message_id",
                    code="already_regenerated",
                )
            stored = await repo.add_message(
                turn.session.id,
                role="assistant",
                content=content,
                citations=[c.to_dict() for c in citations] or None,
                api_calls=turn.extension.get("api_calls") or None,
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
    chat_session: ChatSession,
    history: list[StoredMessage],
    content: str,
    sources: ChatMessage | None = None,
) -> list[ChatMessage]:
    messages = (
        [ChatMessage("system", chat_session.system_prompt)] if chat_session.system_prompt else []
    )
    if sources is not None:
        messages.append(sources)
    for stored in _answered(history):
        messages.append(ChatMessage(stored.role, stored.content))
    messages.append(ChatMessage("user", content))
    return messages


def _regenerable(history: list[StoredMessage], message_id: str) -> StoredMessage:
    """The answer `message_id`, if it is the session's latest message (else InvalidRequest)."""
    message = next((m for m in history if m.id == message_id), None)
    if message is None:
        raise NotFound(f"no message '{message_id}' in this session", param="message_id")
    if message.role != "assistant":
        raise InvalidRequest(
            f"only answers can be regenerated: '{message_id}' is a {message.role} message",
            param="message_id",
            code="not_an_answer",
        )
    top = latest(history)
    if top is None or top.id != message.id:
        raise InvalidRequest(
            f"only the latest answer can be regenerated: '{message_id}' is "
            + ("replaced" if message.status == REPLACED else "followed by other messages"),
            param="message_id",
            code="not_the_latest_answer",
        )
    return message


def _answered(history: list[StoredMessage]) -> list[StoredMessage]:
    """Questions with their complete answers, in order (`answered_pairs`): failed or
    cancelled turns are not replayed."""
    return [message for pair in answered_pairs(history) for message in pair]


def _title(content: str) -> str:
    line = " ".join(content.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


def _millis(start: float, end: float | None) -> int | None:
    return None if end is None else int((end - start) * 1000)
