"""Feedback on answers: one row per user and message, replaced when rated again."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import MessageFeedbackRow, MessageRow, utcnow
from homeport.domain.feedback import Answered, Feedback, Rating
from homeport.domain.ids import new_id
from homeport.errors import NotFound


def _feedback(row: MessageFeedbackRow) -> Feedback:
    return Feedback(
        id=row.id,
        message_id=row.message_id,
        session_id=row.session_id,
        user_id=row.user_id,
        rating=cast(Rating, row.rating),
        comment=row.comment,
        model=row.model,
        app=row.app,
        app_version=row.app_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class FeedbackRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def put(
        self,
        *,
        message_id: str,
        session_id: str,
        user_id: str,
        rating: Rating,
        comment: str | None,
        answered: Answered,
    ) -> Feedback:
        """Insert or replace the user's feedback on the message, in one statement: requests
        at the same time leave one row (the last one's)."""
        now = utcnow()
        changed = {
            "rating": rating,
            "comment": comment,
            "model": answered.model,
            "app": answered.app,
            "app_version": answered.app_version,
            "updated_at": now,
        }
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(MessageFeedbackRow).values(
            id=new_id("fb"),
            message_id=message_id,
            session_id=session_id,
            user_id=user_id,
            created_at=now,
            **changed,
        )
        try:
            await self.session.execute(
                statement.on_conflict_do_update(
                    index_elements=["message_id", "user_id"], set_=changed
                )
            )
        except IntegrityError as exc:  # the message was deleted meanwhile
            raise NotFound(f"no message '{message_id}'", param="message_id") from exc
        found = await self.get(message_id, user_id=user_id)
        assert found is not None
        return found

    async def get(self, message_id: str, *, user_id: str) -> Feedback | None:
        row = await self.session.scalar(
            select(MessageFeedbackRow)
            .where(MessageFeedbackRow.message_id == message_id)
            .where(MessageFeedbackRow.user_id == user_id)
            .execution_options(populate_existing=True)
        )
        return _feedback(row) if row else None

    async def delete(self, message_id: str, *, user_id: str) -> bool:
        result = await self.session.execute(
            delete(MessageFeedbackRow)
            .where(MessageFeedbackRow.message_id == message_id)
            .where(MessageFeedbackRow.user_id == user_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def of_session(self, session_id: str, *, user_id: str) -> list[Feedback]:
        rows = await self.session.scalars(
            select(MessageFeedbackRow)
            .where(MessageFeedbackRow.session_id == session_id)
            .where(MessageFeedbackRow.user_id == user_id)
        )
        return [_feedback(row) for row in rows]

    async def recent(
        self,
        *,
        user_id: str | None = None,
        app: str | None = None,
        rating: Rating | None = None,
        before: datetime | None = None,
        answered_since: datetime | None = None,
        limit: int = 50,
    ) -> list[Feedback]:
        """Most recently rated first; None for a filter means any. `answered_since`: only
        on answers given since then."""
        query = select(MessageFeedbackRow).order_by(
            MessageFeedbackRow.updated_at.desc(), MessageFeedbackRow.id.desc()
        )
        if user_id is not None:
            query = query.where(MessageFeedbackRow.user_id == user_id)
        if app is not None:
            query = query.where(MessageFeedbackRow.app == app)
        if rating is not None:
            query = query.where(MessageFeedbackRow.rating == rating)
        if before is not None:
            query = query.where(MessageFeedbackRow.updated_at < before)
        if answered_since is not None:
            query = query.join(MessageRow, MessageRow.id == MessageFeedbackRow.message_id).where(
                MessageRow.created_at >= answered_since
            )
        return [_feedback(row) for row in await self.session.scalars(query.limit(limit))]
