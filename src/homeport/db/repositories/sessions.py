"""Chat sessions and their messages."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import ChatSessionRow, MessageRow, utcnow
from homeport.domain.ids import new_id
from homeport.domain.sessions import REPLACED, ChatSession, Citation, StoredMessage


def _chat_session(row: ChatSessionRow) -> ChatSession:
    return ChatSession(
        id=row.id,
        user_id=row.user_id,
        title=row.title,
        model=row.model,
        system_prompt=row.system_prompt,
        created_at=row.created_at,
        updated_at=row.updated_at,
        knowledge=tuple(row.knowledge or ()),
    )


def _message(row: MessageRow) -> StoredMessage:
    return StoredMessage(
        id=row.id,
        session_id=row.session_id,
        role=row.role,
        content=row.content,
        status=row.status,
        created_at=row.created_at,
        error=row.error,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        time_to_first_token_ms=row.time_to_first_token_ms,
        duration_ms=row.duration_ms,
        finish_reason=row.finish_reason,
        reply_to=row.reply_to,
        citations=tuple(Citation.from_dict(c) for c in row.citations or ()),
        api_calls=tuple(row.api_calls or ()),
    )


def _matching(search: str) -> ColumnElement[bool]:
    """A session whose title, or one of its messages not replaced, contains `search`."""
    pattern = "%" + _escape_like(search) + "%"
    in_messages = exists().where(
        MessageRow.session_id == ChatSessionRow.id,
        MessageRow.status != REPLACED,
        MessageRow.content.ilike(pattern, escape="\\"),
    )
    return or_(ChatSessionRow.title.ilike(pattern, escape="\\"), in_messages)


def _escape_like(text: str) -> str:
    """`text` matched literally by LIKE: its wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ChatSessionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self,
        *,
        user_id: str,
        title: str,
        model: str | None,
        system_prompt: str | None,
        knowledge: list[str] | None = None,
    ) -> ChatSession:
        row = ChatSessionRow(
            id=new_id("sess"),
            user_id=user_id,
            title=title,
            model=model,
            system_prompt=system_prompt,
            knowledge=knowledge or [],
        )
        self.session.add(row)
        await self.session.flush()
        return _chat_session(row)

    async def get(self, session_id: str, *, user_id: str) -> ChatSession | None:
        row = await self._row(session_id, user_id)
        return _chat_session(row) if row else None

    async def page(
        self, *, user_id: str, limit: int, after: str | None, search: str | None = None
    ) -> tuple[list[ChatSession], bool]:
        """Newest first; `after` is the last id of the previous page. With `search`, only
        sessions whose title or a shown message holds it (case-insensitive)."""
        query = select(ChatSessionRow).where(ChatSessionRow.user_id == user_id)
        if after:
            query = query.where(ChatSessionRow.id < after)
        if search:
            query = query.where(_matching(search))
        rows = list(
            await self.session.scalars(query.order_by(ChatSessionRow.id.desc()).limit(limit + 1))
        )
        return [_chat_session(r) for r in rows[:limit]], len(rows) > limit

    async def update(self, session_id: str, *, user_id: str, **values: Any) -> ChatSession | None:
        row = await self._row(session_id, user_id)
        if row is None:
            return None
        for field, value in values.items():
            setattr(row, field, value)
        row.updated_at = utcnow()
        await self.session.flush()
        return _chat_session(row)

    async def delete(self, session_id: str, *, user_id: str) -> bool:
        row = await self._row(session_id, user_id)
        if row is None:
            return False
        await self.session.execute(delete(MessageRow).where(MessageRow.session_id == session_id))
        await self.session.delete(row)
        await self.session.flush()
        return True

    async def add_message(self, session_id: str, **values: Any) -> StoredMessage:
        row = MessageRow(id=new_id("msg"), session_id=session_id, **values)
        self.session.add(row)
        await self.session.execute(
            update(ChatSessionRow)
            .where(ChatSessionRow.id == session_id)
            .values(updated_at=utcnow())
        )
        await self.session.flush()
        return _message(row)

    async def messages(self, session_id: str) -> list[StoredMessage]:
        query = (
            select(MessageRow).where(MessageRow.session_id == session_id).order_by(MessageRow.id)
        )
        return [_message(r) for r in await self.session.scalars(query)]

    async def message(self, session_id: str, message_id: str) -> StoredMessage | None:
        row = await self.session.scalar(
            select(MessageRow).where(
                MessageRow.id == message_id, MessageRow.session_id == session_id
            )
        )
        return _message(row) if row else None

    async def replace_answer(self, message_id: str) -> bool:
        """Mark an answer replaced, unless it already is (a regenerate that got there first);
        the row lock this takes makes concurrent replacements of one answer wait their turn."""
        result = await self.session.execute(
            update(MessageRow)
            .where(MessageRow.id == message_id, MessageRow.status != REPLACED)
            .values(status=REPLACED)
        )
        return bool(getattr(result, "rowcount", 0))

    async def messages_of(self, session_ids: Collection[str]) -> dict[str, list[StoredMessage]]:
        """The messages of each session, in order."""
        found: dict[str, list[StoredMessage]] = {id_: [] for id_ in session_ids}
        query = (
            select(MessageRow).where(MessageRow.session_id.in_(list(found))).order_by(MessageRow.id)
        )
        for row in await self.session.scalars(query):
            found[row.session_id].append(_message(row))
        return found

    async def _row(self, session_id: str, user_id: str) -> ChatSessionRow | None:
        return await self.session.scalar(
            select(ChatSessionRow).where(
                ChatSessionRow.id == session_id, ChatSessionRow.user_id == user_id
            )
        )
