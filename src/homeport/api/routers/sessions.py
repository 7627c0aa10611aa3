"""Chat sessions (/api/v1/sessions): stored conversations, and chatting in them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from homeport.api.deps import ServicesDep, SessionsCaller
from homeport.api.openai_format import chat_chunks
from homeport.api.schemas.knowledge import SourceOut
from homeport.api.schemas.rest import (
    ChatIn,
    CitationOut,
    MessageOut,
    RegenerateIn,
    SessionCreate,
    SessionOut,
    SessionPage,
    SessionUpdate,
    TurnOut,
)
from homeport.api.sse import prefetch, sse_response
from homeport.api.uploads import read_uploads
from homeport.domain.chat import SamplingParams
from homeport.services.sessions import Turn

router = APIRouter(prefix="/api/v1/sessions", tags=["sessions"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_session(
    body: SessionCreate, services: ServicesDep, principal: SessionsCaller
) -> SessionOut:
    created = await services.sessions.create(
        principal,
        title=body.title,
        model=body.model,
        system_prompt=body.system_prompt,
        knowledge=body.knowledge,
    )
    return SessionOut.of(created)


@router.get("")
async def list_sessions(
    services: ServicesDep,
    principal: SessionsCaller,
    limit: int = Query(default=20, ge=1, le=100),
    after: str | None = Query(default=None, description="The last id of the previous page"),
    q: str | None = Query(
        default=None,
        max_length=200,
        description="Only sessions whose title or messages contain this (case-insensitive)",
    ),
) -> SessionPage:
    sessions, has_more = await services.sessions.page(principal, limit=limit, after=after, search=q)
    return SessionPage(
        data=[SessionOut.of(s) for s in sessions],
        has_more=has_more,
        last_id=sessions[-1].id if sessions else None,
    )


@router.get("/{session_id}")
async def get_session(
    session_id: str, services: ServicesDep, principal: SessionsCaller
) -> SessionOut:
    found, messages = await services.sessions.get(principal, session_id)
    feedback = await services.feedback.of_session(principal, session_id)
    return SessionOut.of(found, messages, feedback)


@router.patch("/{session_id}")
async def update_session(
    session_id: str, body: SessionUpdate, services: ServicesDep, principal: SessionsCaller
) -> SessionOut:
    updated = await services.sessions.update(
        principal, session_id, title=body.title, model=body.model, knowledge=body.knowledge
    )
    return SessionOut.of(updated)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(session_id: str, services: ServicesDep, principal: SessionsCaller) -> None:
    await services.sessions.delete(principal, session_id)


@router.post("/{session_id}/messages", response_model=None)
async def chat(
    session_id: str, body: ChatIn, services: ServicesDep, principal: SessionsCaller
) -> TurnOut | StreamingResponse:
    """Send a message; the answer streams as OpenAI chunks unless `stream` is false."""
    params = SamplingParams(
        max_tokens=body.max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed
    )
    turn = await services.sessions.start_turn(
        principal,
        session_id,
        content=body.content,
        model=body.model,
        params=params,
        knowledge=body.knowledge,
    )
    return await _answer(turn, stream=body.stream)


@router.post("/{session_id}/messages/{message_id}/regenerate", response_model=None)
async def regenerate(
    session_id: str,
    message_id: str,
    body: RegenerateIn,
    services: ServicesDep,
    principal: SessionsCaller,
) -> TurnOut | StreamingResponse:
    """Answer the session's latest question again, in place of its latest answer (which is
    kept, `replaced`, once the new one completes); streams and answers as sending does."""
    params = SamplingParams(
        max_tokens=body.max_tokens, temperature=body.temperature, top_p=body.top_p, seed=body.seed
    )
    turn = await services.sessions.start_regenerate(
        principal, session_id, message_id, model=body.model, params=params
    )
    return await _answer(turn, stream=body.stream)


async def _answer(turn: Turn, *, stream: bool) -> TurnOut | StreamingResponse:
    if stream:
        turn.events = await prefetch(turn.events)
        return sse_response(_chunks(turn))
    async for _ in turn.events:
        pass
    return _turn_out(turn)


async def _chunks(turn: Turn) -> AsyncIterator[dict[str, Any]]:
    async for chunk in chat_chunks(turn.model, turn.events, include_usage=True):
        if "homeport" in chunk:
            chunk["homeport"].update(_turn_out(turn).model_dump(mode="json"))
        yield chunk


def _turn_out(turn: Turn) -> TurnOut:
    assert turn.assistant_message is not None
    return TurnOut(
        session_id=turn.session.id,
        model=turn.model.id,
        user_message=MessageOut.of(turn.user_message),
        assistant_message=MessageOut.of(turn.assistant_message),
        citations=[CitationOut.of(c) for c in turn.citations],
        api_calls=turn.extension.get("api_calls"),
    )


@router.post("/{session_id}/files", status_code=status.HTTP_202_ACCEPTED)
async def attach_files(
    session_id: str,
    services: ServicesDep,
    principal: SessionsCaller,
    files: Annotated[list[UploadFile], File(description="PDF, DOCX, PPTX, HTML, MD, TXT, CSV")],
) -> list[SourceOut]:
    """Attach files to the conversation: they are indexed (as a knowledge base of the
    session) and the next answers are grounded in them, with citations."""
    uploads = await read_uploads(files, services.settings.upload_max_bytes)
    return [
        SourceOut.of(
            await services.sessions.attach_file(
                principal, session_id, name=u.name, content_type=u.content_type, data=u.data
            )
        )
        for u in uploads
    ]
