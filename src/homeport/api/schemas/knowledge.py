"""Bodies of the knowledge routes (/api/v1/knowledge)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from homeport.api.schemas.rest import Strict
from homeport.domain.knowledge import Document, Hit, KnowledgeBase, Source


class KnowledgeIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=4000)
    embedding_model: str | None = Field(
        default=None, description="An embedding model id; default: the server's default"
    )
    chunk_size: int | None = Field(default=None, ge=32, le=8192, description="In tokens")
    chunk_overlap: int | None = Field(default=None, ge=0, le=4096, description="In tokens")
    schedule: str | None = Field(
        default=None, description="Re-crawl on this cron schedule, e.g. '0 3 * * *'"
    )


class KnowledgePatch(Strict):
    description: str | None = Field(default=None, max_length=4000)
    embedding_model: str | None = None
    chunk_size: int | None = Field(default=None, ge=32, le=8192)
    chunk_overlap: int | None = Field(default=None, ge=0, le=4096)
    schedule: str | None = None


class KnowledgeOut(BaseModel):
    id: str
    name: str
    access: Literal["owner", "edit", "use"] = Field(
        description="What you may do: everything, add sources and refresh, or read"
    )
    description: str
    owner_id: str
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    version: int = Field(description="The index version queries read")
    building_version: int | None = Field(description="A version being built by a refresh")
    schedule: str | None
    next_refresh_at: datetime | None
    session_id: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, kb: KnowledgeBase, access: str) -> KnowledgeOut:
        return cls(
            access=access,
            id=kb.id,
            name=kb.name,
            description=kb.description,
            owner_id=kb.owner_id,
            embedding_model=kb.embedding_model,
            chunk_size=kb.chunk_size,
            chunk_overlap=kb.chunk_overlap,
            version=kb.active_version,
            building_version=kb.building_version,
            schedule=kb.schedule,
            next_refresh_at=kb.next_refresh_at,
            session_id=kb.session_id,
            created_at=kb.created_at,
            updated_at=kb.updated_at,
        )


class SourceIn(Strict):
    """A URL (one page, or a crawl with `depth` > 0) or inline text."""

    url: str | None = Field(default=None, max_length=2048)
    depth: int = Field(default=0, ge=0, le=10, description="Links to follow from the page")
    max_pages: int = Field(default=50, ge=1, le=10_000)
    same_site: bool = True
    respect_robots: bool = Field(default=True, description="Obey robots.txt")
    text: str | None = Field(default=None, max_length=5_000_000)
    title: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _one_kind(self) -> SourceIn:
        if (self.url is None) == (self.text is None):
            raise ValueError("give either url or text")
        return self


class SourceOut(BaseModel):
    id: str
    kind: Literal["file", "url", "text"]
    uri: str
    title: str | None
    content_type: str | None
    options: dict[str, object]
    created_at: datetime

    @classmethod
    def of(cls, source: Source) -> SourceOut:
        return cls(
            id=source.id,
            kind=source.kind,
            uri=source.uri,
            title=source.title,
            content_type=source.content_type,
            options=source.options,
            created_at=source.created_at,
        )


class DocumentOut(BaseModel):
    id: str
    source_id: str
    version: int
    uri: str
    title: str | None
    content_type: str | None
    state: Literal["queued", "fetching", "converting", "embedding", "ready", "failed"]
    error: str | None
    progress: float
    chunks: int
    updated_at: datetime

    @classmethod
    def of(cls, document: Document) -> DocumentOut:
        return cls(
            id=document.id,
            source_id=document.source_id,
            version=document.version,
            uri=document.uri,
            title=document.title,
            content_type=document.content_type,
            state=document.state,
            error=document.error,
            progress=round(document.progress, 3),
            chunks=document.chunks,
            updated_at=document.updated_at,
        )


class DocumentsOut(BaseModel):
    version: int
    building_version: int | None
    pending: int = Field(
        description="Sources still being ingested (a crawl adds documents as it goes); "
        "0 once every source is done"
    )
    data: list[DocumentOut]


class RerankIn(Strict):
    model: str = Field(description="A model with a rerank endpoint, or a chat model to grade")
    method: Literal["auto", "endpoint", "llm"] = "auto"


class QueryIn(Strict):
    query: str = Field(min_length=1, max_length=10_000)
    top_k: int = Field(default=5, ge=1, le=100)
    threshold: float | None = Field(
        default=None, ge=-1, le=1, description="Minimum cosine similarity of a dense hit"
    )
    mode: Literal["hybrid", "dense", "keyword"] = "hybrid"
    rerank: RerankIn | None = Field(default=None, description="Off unless given")


class MultiQueryIn(QueryIn):
    knowledge: list[str] = Field(min_length=1, max_length=50, description="Ids or names")


class HitOut(BaseModel):
    knowledge_base: str
    document_id: str
    chunk_id: str
    source: str = Field(description="The URL or the file name")
    title: str | None
    section: str | None
    page: int | None
    snippet: str
    url: str | None = Field(description="Opens the source; none for inline text")
    score: float
    dense_score: float | None
    keyword_score: float | None

    @classmethod
    def of(cls, hit: Hit, url: str | None = None) -> HitOut:
        chunk = hit.chunk
        return cls(
            url=url,
            knowledge_base=chunk.kb_id,
            document_id=chunk.document_id,
            chunk_id=chunk.id,
            source=chunk.source,
            title=chunk.title,
            section=chunk.section,
            page=chunk.page,
            snippet=chunk.text,
            score=round(hit.score, 6),
            dense_score=None if hit.dense_score is None else round(hit.dense_score, 6),
            keyword_score=None if hit.keyword_score is None else round(hit.keyword_score, 6),
        )


class HitsOut(BaseModel):
    data: list[HitOut]
