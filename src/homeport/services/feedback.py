"""Feedback on answers: thumbs up or down, with an optional comment, for evals.

Who may do what:

    rate an answer, change or remove the rating   the session's owner (anyone else: 404,
                                                  as for the session itself)
    list feedback                                 everyone their own; with `app`, the app's
                                                  editors (owner, admins, users granted
                                                  `edit`) every user's on that app; platform
                                                  admins everyone's

Ratings on an app's answers go to the app's builders, with the conversation up to the rated
answer, so they can turn bad answers into eval cases. Like chatting itself, rating is not
audited (the audit log records changes to accounts, access and configuration).
"""

from __future__ import annotations

from datetime import datetime

from homeport.db.engine import Database
from homeport.db.repositories import ChatSessionRepository
from homeport.db.repositories.feedback import FeedbackRepository
from homeport.domain.feedback import (
    COMMENT_MAX,
    Answered,
    Feedback,
    RatedAnswer,
    Rating,
    conversation_until,
)
from homeport.domain.users import Principal
from homeport.errors import InvalidRequest, NotFound
from homeport.services.apps import AppService


class FeedbackService:
    def __init__(self, db: Database, apps: AppService):
        self.db = db
        self.apps = apps

    async def rate(
        self,
        principal: Principal,
        session_id: str,
        message_id: str,
        *,
        rating: Rating,
        comment: str | None,
    ) -> Feedback:
        """Rate an answer of the caller's session; rating it again replaces the rating."""
        comment = _comment(comment)
        async with self.db.transaction() as session:
            sessions = ChatSessionRepository(session)
            chat = await sessions.get(session_id, user_id=principal.user_id)
            if chat is None:
                raise NotFound(f"no session '{session_id}'", param="session_id")
            message = await sessions.message(session_id, message_id)
            if message is None:
                raise NotFound(f"no message '{message_id}' in this session", param="message_id")
            if message.role != "assistant":
                raise InvalidRequest(
                    f"only answers can be rated: '{message_id}' is a {message.role} message",
                    param="message_id",
                    code="not_an_answer",
                )
            return await FeedbackRepository(session).put(
                message_id=message_id,
                session_id=session_id,
                user_id=principal.user_id,
                rating=rating,
                comment=comment,
                answered=Answered.of(message.model, chat.model),
            )

    async def remove(self, principal: Principal, session_id: str, message_id: str) -> None:
        """Remove the caller's rating of an answer."""
        user_id = principal.user_id
        async with self.db.transaction() as session:
            if await ChatSessionRepository(session).get(session_id, user_id=user_id) is None:
                raise NotFound(f"no session '{session_id}'", param="session_id")
            removed = await FeedbackRepository(session).delete(message_id, user_id=user_id)
        if not removed:
            raise NotFound(f"no feedback on message '{message_id}'", param="message_id")

    async def of_session(self, principal: Principal, session_id: str) -> dict[str, Feedback]:
        """The caller's feedback on a session's messages, by message id."""
        async with self.db.transaction() as session:
            found = await FeedbackRepository(session).of_session(
                session_id, user_id=principal.user_id
            )
        return {f.message_id: f for f in found}

    async def recent(
        self,
        principal: Principal,
        *,
        app: str | None = None,
        rating: Rating | None = None,
        before: datetime | None = None,
        limit: int = 50,
    ) -> list[RatedAnswer]:
        """Most recently rated first, each with the conversation up to the rated answer."""
        # An app's answers since it was created: not those of a deleted app of that name.
        since = (await self.apps.editable(principal, app)).created_at if app else None
        everyone = principal.is_admin or app is not None
        async with self.db.transaction() as session:
            found = await FeedbackRepository(session).recent(
                user_id=None if everyone else principal.user_id,
                app=app,
                rating=rating,
                before=before,
                answered_since=since,
                limit=limit,
            )
            messages = await ChatSessionRepository(session).messages_of(
                {f.session_id for f in found}
            )
        return [
            RatedAnswer(f, conversation_until(messages[f.session_id], f.message_id)) for f in found
        ]


def _comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX:
        raise InvalidRequest(
            f"the comment is {len(text)} characters long; at most {COMMENT_MAX} are kept",
            param="comment",
            code="comment_too_long",
        )
    return text or None
