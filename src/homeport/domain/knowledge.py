"""Knowledge: bases of documents, their chunks, and what retrieval returns.

A knowledge base holds sources (files, URLs, inline text). Each source yields documents;
each document is converted to Markdown, cut into chunks, and the chunks are embedded and
indexed. Indexing is versioned: a refresh builds version n+1 while queries keep reading
version n, then switches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

SourceKind = Literal["file", "url", "text"]
DocumentState = Literal["queued", "fetching", "converting", "embedding", "ready", "failed"]
SearchMode = Literal["hybrid", "dense", "keyword"]


@dataclass(frozen=True, slots=True)
class PageSpan:
    """Where a page of the original (a PDF page, a slide) lies in the converted Markdown."""

    page: int  # 1-based
    start: int  # character offsets into the Markdown
    end: int


@dataclass(frozen=True, slots=True)
class Converted:
    """A document as Markdown, with its title and, for paged formats, where each page lies."""

    markdown: str
    title: str | None = None
    pages: tuple[PageSpan, ...] = ()
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A piece of a converted document, before it is embedded.

    `section` is the heading path (`Install > On Linux`); `page` the page it starts on, for
    paged formats; `start`/`end` its character offsets in the Markdown.
    """

    text: str
    ordinal: int
    section: str | None = None
    page: int | None = None
    start: int = 0
    end: int = 0


@dataclass(frozen=True, slots=True)
class IndexedChunk:
    """A chunk as a store holds it: where it comes from, and its vector."""

    id: str
    kb_id: str
    version: int
    document_id: str
    ordinal: int
    text: str
    source: str  # a URL or a file name
    title: str | None
    section: str | None
    page: int | None
    vector: list[float] = field(repr=False, default_factory=list)


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk retrieval returned, and why.

    `score` is the fused score for hybrid search (reciprocal rank fusion) or the single
    method's score; `dense_score` is the cosine similarity, `keyword_score` the full-text
    rank relative to the query's best keyword match (which scores 1.0), either None when that
    method did not find the chunk.
    """

    chunk: IndexedChunk
    score: float
    dense_score: float | None = None
    keyword_score: float | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    id: str
    name: str
    description: str
    owner_id: str
    embedding_model: str
    chunk_size: int
    chunk_overlap: int
    active_version: int
    building_version: int | None
    schedule: str | None
    session_id: str | None
    created_at: datetime
    updated_at: datetime
    next_refresh_at: datetime | None = None
    building_model: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    kb_id: str
    kind: SourceKind
    uri: str  # the URL, the file's name, or a name for inline text
    title: str | None
    content_type: str | None
    blob: str | None
    options: dict[str, Any]
    created_at: datetime
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    kb_id: str
    source_id: str
    version: int
    uri: str
    title: str | None
    content_type: str | None
    state: DocumentState
    error: str | None
    progress: float
    chunks: int
    created_at: datetime
    updated_at: datetime
    blob: str | None = None
