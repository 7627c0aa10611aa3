"""Ingestion: the background job that turns one source of a knowledge base into indexed chunks.

A job is (knowledge base, source, version). Each document of the source moves through
fetching, converting, embedding, then ready or failed with its reason; one bad document
never fails the others. A job may run again (a crash, a restart): it rebuilds its documents
from scratch, deleting their earlier chunks first, so nothing is indexed twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from homeport.db.engine import Database
from homeport.db.repositories.jobs import Job
from homeport.db.repositories.knowledge import KnowledgeRepository
from homeport.domain.knowledge import ChunkDraft, Converted, IndexedChunk, KnowledgeBase, Source
from homeport.domain.usage import Caller
from homeport.errors import HomeportError
from homeport.knowledge.blobs import BlobStore
from homeport.knowledge.chunking import chunk_markdown
from homeport.knowledge.convert import convert
from homeport.knowledge.crawl import crawl
from homeport.knowledge.stores.base import VectorStore
from homeport.outbound import OutboundClient
from homeport.providers.router import InferenceRouter

log = logging.getLogger(__name__)

INGEST = "knowledge.ingest"
EMBED_BATCH = 32
PASSAGE = "passage"


def ingest_key(kb_id: str, version: int, source_id: str) -> str:
    return f"{INGEST}:{kb_id}:{version}:{source_id}"


def version_prefix(kb_id: str, version: int) -> str:
    return f"{INGEST}:{kb_id}:{version}:"


@dataclass(frozen=True, slots=True)
class Raw:
    """A document's bytes as they came (an upload, a fetched page, inline text)."""

    uri: str
    data: bytes
    content_type: str | None
    name: str | None = None
    url: str | None = None
    blob: str | None = None


class Ingestor:
    def __init__(
        self,
        db: Database,
        store: VectorStore,
        router: InferenceRouter,
        outbound: Callable[[], Awaitable[OutboundClient]],
        blobs: BlobStore,
    ):
        self.db = db
        self.store = store
        self.router = router
        self.outbound = outbound
        self.blobs = blobs

    async def run(self, job: Job) -> None:
        payload = job.payload
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            kb = await repo.get(payload["kb"])
            source = await repo.source(payload["source"])
        if kb is None or source is None:
            return  # deleted since
        version = int(payload["version"])
        model = str(payload.get("model") or kb.embedding_model)
        async for raw in self._documents(kb, source, version):
            await self._index(kb, source, version, model, raw)

    # -- reading a source ----------------------------------------------------------------------

    async def _documents(
        self, kb: KnowledgeBase, source: Source, version: int
    ) -> AsyncIterator[Raw | tuple[str, str]]:
        """A source's documents: `Raw`, or (uri, error) for one that could not be read."""
        if source.kind == "text":
            text = source.text or ""
            yield Raw(source.uri, text.encode(), "text/markdown", name=source.uri)
        elif source.kind == "file":
            assert source.blob is not None
            data = await self.blobs.get(source.blob)
            yield Raw(source.uri, data, source.content_type, name=source.uri, blob=source.blob)
        else:
            async for item in self._crawl(kb, source, version):
                yield item

    async def _crawl(
        self, kb: KnowledgeBase, source: Source, version: int
    ) -> AsyncIterator[Raw | tuple[str, str]]:
        start = await self._set_state(kb, source, version, source.uri, state="fetching")
        options = source.options
        seen: set[str] = set()
        try:
            async for result in crawl(
                await self.outbound(),
                source.uri,
                depth=int(options.get("depth", 0)),
                max_pages=int(options.get("max_pages", 50)),
                same_site=bool(options.get("same_site", True)),
                respect_robots=bool(options.get("respect_robots", True)),
            ):
                seen.add(result.url)
                if result.page is None:
                    yield (result.url, result.error or "could not be fetched")
                    continue
                page = result.page
                yield Raw(result.url, page.data, page.content_type, url=page.final_url)
        except HomeportError as exc:
            seen.add(source.uri)
            yield (source.uri, exc.message)
        if source.uri not in seen:  # the crawl named the start page otherwise
            await self._forget(start)

    # -- one document --------------------------------------------------------------------------

    async def _index(
        self,
        kb: KnowledgeBase,
        source: Source,
        version: int,
        model: str,
        raw: Raw | tuple[str, str],
    ) -> None:
        if isinstance(raw, tuple):
            await self._set_state(kb, source, version, raw[0], state="failed", error=raw[1])
            return
        document = await self._set_state(
            kb,
            source,
            version,
            raw.uri,
            state="converting",
            content_type=raw.content_type,
            blob=raw.blob,
        )
        try:
            converted = await asyncio.to_thread(
                convert, raw.data, name=raw.name, content_type=raw.content_type, url=raw.url
            )
            drafts = chunk_markdown(converted, size=kb.chunk_size, overlap=kb.chunk_overlap)
            await self._update(document, state="embedding", title=_title(converted, source))
            await self.store.delete(kb.id, version=version, document_id=document)
            await self._embed(kb, version, model, document, source, raw, converted, drafts)
        except HomeportError as exc:
            log.info("document %s of %s failed: %s", raw.uri, kb.name, exc.message)
            await self.store.delete(kb.id, version=version, document_id=document)
            await self._update(document, state="failed", error=exc.message, progress=0.0)
            return
        await self._update(document, state="ready", progress=1.0, chunks=len(drafts), error=None)

    async def _embed(
        self,
        kb: KnowledgeBase,
        version: int,
        model: str,
        document: str,
        source: Source,
        raw: Raw,
        converted: Converted,
        drafts: Sequence[ChunkDraft],
    ) -> None:
        title = _title(converted, source)
        caller = Caller(user_id=kb.owner_id)
        for start in range(0, len(drafts), EMBED_BATCH):
            batch = drafts[start : start + EMBED_BATCH]
            texts = [_passage(title, d) for d in batch]
            _, result = await self.router.embed(model, texts, input_type=PASSAGE, caller=caller)
            await self.store.add(
                [
                    IndexedChunk(
                        id=f"{document}:{d.ordinal}",
                        kb_id=kb.id,
                        version=version,
                        document_id=document,
                        ordinal=d.ordinal,
                        text=d.text,
                        source=raw.url or raw.uri,
                        title=title,
                        section=d.section,
                        page=d.page,
                        vector=vector,
                    )
                    for d, vector in zip(batch, result.vectors, strict=True)
                ]
            )
            await self._update(document, progress=min(1.0, (start + len(batch)) / len(drafts)))

    # -- bookkeeping -----------------------------------------------------------------------------

    async def _set_state(
        self, kb: KnowledgeBase, source: Source, version: int, uri: str, **values: object
    ) -> str:
        async with self.db.transaction() as session:
            document = await KnowledgeRepository(session).upsert_document(
                kb_id=kb.id,
                source_id=source.id,
                version=version,
                uri=uri,
                **{"error": None, "progress": 0.0, "chunks": 0, **values},
            )
        return document.id

    async def _forget(self, document_id: str) -> None:
        async with self.db.transaction() as session:
            await KnowledgeRepository(session).delete_document(document_id)

    async def _update(self, document_id: str, **values: object) -> None:
        async with self.db.transaction() as session:
            await KnowledgeRepository(session).set_document(document_id, **values)


def _title(converted: Converted, source: Source) -> str | None:
    return source.title or converted.title


def _passage(title: str | None, draft: ChunkDraft) -> str:
    """What is embedded for a chunk: its title and section give it context."""
    heading = " > ".join(part for part in (title, draft.section) if part)
    return f"{heading}\n\n{draft.text}" if heading else draft.text
