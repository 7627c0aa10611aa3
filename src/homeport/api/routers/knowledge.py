"""Knowledge bases (/api/v1/knowledge): create, add sources (files, URLs, text), follow
ingestion, refresh, and query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile, status

from homeport.api.deps import KnowledgeManager, KnowledgeReader, ServicesDep
from homeport.api.schemas.knowledge import (
    DocumentOut,
    DocumentsOut,
    HitOut,
    HitsOut,
    KnowledgeIn,
    KnowledgeOut,
    KnowledgePatch,
    MultiQueryIn,
    QueryIn,
    SourceIn,
    SourceOut,
)
from homeport.api.uploads import read_uploads
from homeport.domain.knowledge import Hit, KnowledgeBase
from homeport.domain.users import Principal
from homeport.errors import NotFound
from homeport.knowledge.rerank import Rerank
from homeport.services.container import Services
from homeport.services.knowledge import KnowledgeInput, UrlInput

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])

# Served inline: formats a browser shows without running anything. Anything else downloads.
INLINE_TYPES = {"application/pdf", "text/plain", "text/markdown", "text/csv"}


@router.get("")
async def list_knowledge(services: ServicesDep, caller: KnowledgeReader) -> list[KnowledgeOut]:
    """The knowledge bases you own or that are shared with you."""
    return [await _out(services, caller, kb) for kb in await services.knowledge.list_bases(caller)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_knowledge(
    body: KnowledgeIn, services: ServicesDep, caller: KnowledgeManager
) -> KnowledgeOut:
    data = KnowledgeInput(**body.model_dump())
    return await _out(services, caller, await services.knowledge.create(caller, data))


@router.post("/query")
async def query_many(body: MultiQueryIn, services: ServicesDep, caller: KnowledgeReader) -> HitsOut:
    """Search several knowledge bases at once."""
    hits = await services.knowledge.query(
        caller,
        body.knowledge,
        body.query,
        top_k=body.top_k,
        threshold=body.threshold,
        mode=body.mode,
        reranking=_reranking(body),
    )
    return await _hits(services, hits)


@router.get("/{kb}")
async def get_knowledge(kb: str, services: ServicesDep, caller: KnowledgeReader) -> KnowledgeOut:
    return await _out(services, caller, await services.knowledge.get(caller, kb))


@router.patch("/{kb}")
async def update_knowledge(
    kb: str, body: KnowledgePatch, services: ServicesDep, caller: KnowledgeManager
) -> KnowledgeOut:
    """Change settings; a new embedding model or chunking re-indexes the base (versioned)."""
    changes = body.model_dump(exclude_unset=True)
    return await _out(services, caller, await services.knowledge.update(caller, kb, changes))


@router.delete("/{kb}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_knowledge(kb: str, services: ServicesDep, caller: KnowledgeManager) -> None:
    await services.knowledge.delete(caller, kb)


@router.get("/{kb}/sources")
async def list_sources(kb: str, services: ServicesDep, caller: KnowledgeReader) -> list[SourceOut]:
    return [SourceOut.of(s) for s in await services.knowledge.sources(caller, kb)]


@router.post("/{kb}/sources", status_code=status.HTTP_202_ACCEPTED)
async def add_source(
    kb: str, body: SourceIn, services: ServicesDep, caller: KnowledgeManager
) -> SourceOut:
    """Add a URL or inline text; it is fetched and indexed in the background."""
    if body.text is not None:
        source = await services.knowledge.add_text(caller, kb, body.text, body.title)
    else:
        assert body.url is not None
        data = UrlInput(
            url=body.url,
            depth=body.depth,
            max_pages=body.max_pages,
            same_site=body.same_site,
            respect_robots=body.respect_robots,
        )
        source = await services.knowledge.add_url(caller, kb, data)
    return SourceOut.of(source)


@router.post("/{kb}/files", status_code=status.HTTP_202_ACCEPTED)
async def upload_files(
    kb: str,
    services: ServicesDep,
    caller: KnowledgeManager,
    files: Annotated[list[UploadFile], File(description="PDF, DOCX, PPTX, HTML, MD, TXT, CSV")],
) -> list[SourceOut]:
    """Upload files; each is converted and indexed in the background."""
    uploads = await read_uploads(files, services.settings.upload_max_bytes)
    return [
        SourceOut.of(
            await services.knowledge.add_file(
                caller, kb, name=u.name, content_type=u.content_type, data=u.data
            )
        )
        for u in uploads
    ]


@router.delete("/{kb}/sources/{source_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_source(
    kb: str, source_id: str, services: ServicesDep, caller: KnowledgeManager
) -> None:
    await services.knowledge.remove_source(caller, kb, source_id)


@router.get("/{kb}/documents")
async def list_documents(kb: str, services: ServicesDep, caller: KnowledgeReader) -> DocumentsOut:
    """Each document and where its ingestion stands (progress, or why it failed)."""
    base, documents = await services.knowledge.documents(caller, kb)
    return DocumentsOut(
        version=base.active_version,
        building_version=base.building_version,
        pending=await services.knowledge.pending(base),
        data=[DocumentOut.of(d) for d in documents],
    )


@router.get("/{kb}/documents/{document_id}/file")
async def document_file(
    kb: str, document_id: str, services: ServicesDep, caller: KnowledgeReader
) -> Response:
    """The uploaded file a document came from (citations link here; PDFs open at `#page=N`)."""
    document = await services.knowledge.document(caller, kb, document_id)
    if document.blob is None:
        raise NotFound(
            "this document was not uploaded as a file; open its URL", param="document_id"
        )
    data = await services.knowledge.blobs.get(document.blob)
    media = document.content_type or "application/octet-stream"
    disposition = "inline" if media in INLINE_TYPES else "attachment"
    name = document.uri.replace('"', "")
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )


@router.post("/{kb}/refresh", status_code=status.HTTP_202_ACCEPTED)
async def refresh_knowledge(
    kb: str, services: ServicesDep, caller: KnowledgeManager
) -> KnowledgeOut:
    """Re-fetch and re-index every source into a new version; queries read the old one until
    it is ready."""
    await services.knowledge.refresh(caller, kb)
    return await _out(services, caller, await services.knowledge.get(caller, kb))


@router.post("/{kb}/query")
async def query_knowledge(
    kb: str, body: QueryIn, services: ServicesDep, caller: KnowledgeReader
) -> HitsOut:
    """The chunks that best answer the query, with their sources, snippets and scores."""
    hits = await services.knowledge.query(
        caller,
        [kb],
        body.query,
        top_k=body.top_k,
        threshold=body.threshold,
        mode=body.mode,
        reranking=_reranking(body),
    )
    return await _hits(services, hits)


def _reranking(body: QueryIn) -> Rerank | None:
    return Rerank(body.rerank.model, body.rerank.method) if body.rerank else None


async def _out(services: Services, caller: Principal, kb: KnowledgeBase) -> KnowledgeOut:
    return KnowledgeOut.of(kb, await services.knowledge.access(caller, kb))


async def _hits(services: Services, hits: list[Hit]) -> HitsOut:
    links = await services.knowledge.links(hits)
    return HitsOut(data=[HitOut.of(h, links[h.chunk.id]) for h in hits])
