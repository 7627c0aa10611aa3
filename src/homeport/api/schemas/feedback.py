"""Bodies of the feedback routes: thumbs up or down on answers, for evals."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from homeport.domain.feedback import COMMENT_MAX, Feedback, RatedAnswer, Rating


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Rating = Field(description="'up' for a good answer, 'down' for a bad one")
    # Checked by the service (400 with param 'comment'), so that every caller gets that answer.
    comment: str | None = Field(
        default=None,
        description=f"Why (optional; at most {COMMENT_MAX} characters)",
        json_schema_extra={"maxLength": COMMENT_MAX},
    )


class MessageFeedbackOut(BaseModel):
    """The caller's rating of an answer, as a session's messages carry it."""

    rating: Rating
    comment: str | None
    updated_at: datetime

    @classmethod
    def of(cls, feedback: Feedback) -> MessageFeedbackOut:
        return cls(rating=feedback.rating, comment=feedback.comment, updated_at=feedback.updated_at)


class FeedbackOut(BaseModel):
    id: str
    rating: Rating
    comment: str | None
    model: str | None = Field(description="What answered: a model id, or app/<name>")
    app: str | None = Field(description="The app that answered, if an app did")
    app_version: int | None = Field(description="The version of the app that answered")
    user_id: str
    session_id: str
    message_id: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, f: Feedback) -> FeedbackOut:
        return cls(
            id=f.id,
            rating=f.rating,
            comment=f.comment,
            model=f.model,
            app=f.app,
            app_version=f.app_version,
            user_id=f.user_id,
            session_id=f.session_id,
            message_id=f.message_id,
            created_at=f.created_at,
            updated_at=f.updated_at,
        )


class TurnText(BaseModel):
    role: str
    content: str


class RatedAnswerOut(FeedbackOut):
    conversation: list[TurnText] = Field(
        description="The session's messages up to and including the rated answer"
    )

    @classmethod
    def of_rated(cls, rated: RatedAnswer) -> RatedAnswerOut:
        return cls(
            **FeedbackOut.of(rated.feedback).model_dump(),
            conversation=[TurnText(role=u.role, content=u.content) for u in rated.conversation],
        )


class FeedbackPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[RatedAnswerOut]
    has_more: bool
