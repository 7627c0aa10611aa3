"""Feedback on answers: thumbs up or down on a session's answers
(/api/v1/sessions/{id}/messages/{id}/feedback), and listing it for evals (/api/v1/feedback)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status

from homeport.api.deps import ServicesDep, SessionsCaller
from homeport.api.schemas.feedback import FeedbackIn, FeedbackOut, FeedbackPage, RatedAnswerOut
from homeport.domain.feedback import Rating

router = APIRouter(tags=["feedback"])

ANSWER = "/api/v1/sessions/{session_id}/messages/{message_id}/feedback"


@router.put(ANSWER)
async def rate_answer(
    session_id: str,
    message_id: str,
    body: FeedbackIn,
    services: ServicesDep,
    principal: SessionsCaller,
) -> FeedbackOut:
    """Rate an answer of your session; rating it again replaces the rating and comment."""
    feedback = await services.feedback.rate(
        principal, session_id, message_id, rating=body.rating, comment=body.comment
    )
    return FeedbackOut.of(feedback)


@router.delete(ANSWER, status_code=status.HTTP_204_NO_CONTENT)
async def remove_rating(
    session_id: str, message_id: str, services: ServicesDep, principal: SessionsCaller
) -> None:
    await services.feedback.remove(principal, session_id, message_id)


@router.get("/api/v1/feedback")
async def list_feedback(
    services: ServicesDep,
    principal: SessionsCaller,
    app: str | None = Query(
        default=None, description="Every user's feedback on this app (its editors only)"
    ),
    rating: Annotated[Rating | None, Query(description="Only 'up' or only 'down'")] = None,
    before: Annotated[
        datetime | None,
        Query(description="Rated before this time (the last updated_at of a page)"),
    ] = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> FeedbackPage:
    """Most recently rated first, each with the conversation up to the rated answer. Yours;
    with `app`, every user's on that app, for its editors (owner, admins, users granted
    edit); everyone's for platform admins."""
    found = await services.feedback.recent(
        principal, app=app, rating=rating, before=before, limit=limit + 1
    )
    return FeedbackPage(
        data=[RatedAnswerOut.of_rated(f) for f in found[:limit]], has_more=len(found) > limit
    )
