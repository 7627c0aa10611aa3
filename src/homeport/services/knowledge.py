"""Knowledge bases: create them, add sources, follow ingestion, refresh, and query them.

Who may do what: the owner and platform admins do everything; a `use` grant (to a user, a
team or an organization) lets others read and query a base, an `edit` grant also lets them
add and remove sources and refresh it. Retrieval reads only the bases the caller may read,
and that filter is part of the store's query.

Versions: sources added to a base are indexed into its live version and appear as their
documents become ready. A refresh (on demand, on its cron schedule, or after the embedding
model changed) indexes every source again into version n+1 while queries keep reading n; once
nothing of n+1 is left to do, the base switches to it and n's chunks are deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.engine import Database
from homeport.db.repositories.jobs import Job, JobRepository
from homeport.db.repositories.knowledge import RESOURCE_TYPE, KnowledgeRepository
from homeport.domain.access import GrantPermission
from homeport.domain.knowledge import Document, Hit, KnowledgeBase, SearchMode, Source
from homeport.domain.usage import Caller
from homeport.domain.users import Principal
from homeport.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from homeport.knowledge.blobs import BlobStore
from homeport.knowledge.rerank import Rerank, rerank
from homeport.knowledge.stores.base import VectorStore
from homeport.providers.catalog import ModelCatalog
from homeport.providers.router import InferenceRouter
from homeport.services.audit import AuditService
from homeport.services.ingest import INGEST, Ingestor, ingest_key, version_prefix
from homeport.services.jobs import JobRunner
from homeport.services.sharing import GrantIndex, SharedResource
from homeport.settings import Settings

log = logging.getLogger(__name__)

QUERY = "query"
SCHEDULE_SECONDS = 60.0
MAX_TOP_K = 100
MAX_RERANK = 50


@dataclass(frozen=True, slots=True)
class KnowledgeInput:
    name: str
    description: str = ""
    embedding_model: str | None = None
    chunk_size: int | None = None
    chunk_overlap: int | None = None
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class UrlInput:
    url: str
    depth: int = 0
    max_pages: int = 50
    same_site: bool = True
    respect_robots: bool = True


class KnowledgeService:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        audit: AuditService,
        *,
        jobs: JobRunner,
        store: VectorStore,
        router: InferenceRouter,
        catalog: ModelCatalog,
        blobs: BlobStore,
        ingestor: Ingestor,
        grants: GrantIndex,
    ):
        self.settings = settings
        self.db = db
        self.audit = audit
        self.jobs = jobs
        self.store = store
        self.router = router
        self.catalog = catalog
        self.blobs = blobs
        self.ingestor = ingestor
        self.grants = grants
        jobs.register(INGEST, self._ingest)

    # -- knowledge bases -------------------------------------------------------------------

    async def create(
        self, principal: Principal, data: KnowledgeInput, *, session_id: str | None = None
    ) -> KnowledgeBase:
        _check_name(data.name)
        model = await self._embedding_model(data.embedding_model)
        size, overlap = self._chunking(data.chunk_size, data.chunk_overlap)
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            if any(
                kb.owner_id == principal.user_id
                for kb in await repo.readable(principal, sessions=True)
                if kb.name == data.name
            ):
                raise Conflict(f"you have a knowledge base named '{data.name}' already")
            kb = await repo.create(
                name=data.name,
                description=data.description,
                owner_id=principal.user_id,
                session_id=session_id,
                embedding_model=model,
                chunk_size=size,
                chunk_overlap=overlap,
                schedule=_check_schedule(data.schedule),
                next_refresh_at=_next_run(data.schedule),
            )
            await self.audit.record(
                "knowledge.created",
                actor=principal,
                target_type=RESOURCE_TYPE,
                target_id=kb.id,
                details={"name": kb.name},
                session=session,
            )
        return kb

    async def list_bases(self, principal: Principal) -> list[KnowledgeBase]:
        async with self.db.transaction() as session:
            return await KnowledgeRepository(session).readable(principal)

    async def get(self, principal: Principal, ref: str) -> KnowledgeBase:
        async with self.db.transaction() as session:
            kb = await KnowledgeRepository(session).find(principal, ref)
        if kb is None:
            raise NotFound(f"no knowledge base '{ref}'", param="knowledge_base")
        return kb

    async def update(
        self, principal: Principal, ref: str, changes: dict[str, Any]
    ) -> KnowledgeBase:
        """Change a base's description, schedule, chunking or embedding model; the last two
        re-index it (a refresh)."""
        kb = await self._writable(principal, ref)
        values: dict[str, Any] = {}
        if "description" in changes:
            values["description"] = str(changes["description"] or "")
        if "schedule" in changes:
            values["schedule"] = _check_schedule(changes["schedule"])
            values["next_refresh_at"] = _next_run(changes["schedule"])
        reindex: dict[str, Any] = {}
        if changes.get("embedding_model") not in (None, kb.embedding_model):
            reindex["embedding_model"] = await self._embedding_model(changes["embedding_model"])
        size, overlap = self._chunking(
            changes.get("chunk_size", kb.chunk_size), changes.get("chunk_overlap", kb.chunk_overlap)
        )
        if (size, overlap) != (kb.chunk_size, kb.chunk_overlap):
            values |= {"chunk_size": size, "chunk_overlap": overlap}
            reindex.setdefault("embedding_model", kb.embedding_model)
        if values:
            async with self.db.transaction() as session:
                await KnowledgeRepository(session).update(kb.id, **values)
        if reindex:
            await self.refresh(principal, kb.id, model=reindex["embedding_model"])
        return await self.get(principal, kb.id)

    async def delete(self, principal: Principal, ref: str) -> None:
        kb = await self._writable(principal, ref, owner_only=True)
        async with self.db.transaction() as session:
            await KnowledgeRepository(session).delete(kb.id)
            await self.audit.record(
                "knowledge.deleted",
                actor=principal,
                target_type=RESOURCE_TYPE,
                target_id=kb.id,
                details={"name": kb.name},
                session=session,
            )
        await self.store.delete(kb.id)

    # -- sources -----------------------------------------------------------------------------

    async def add_url(self, principal: Principal, ref: str, data: UrlInput) -> Source:
        if not data.url.startswith(("http://", "https://")):
            raise ValidationFailed("a URL source must start with http:// or https://", param="url")
        if data.depth < 0 or data.depth > 10 or not 1 <= data.max_pages <= 10_000:
            raise ValidationFailed("depth must be 0-10 and max_pages 1-10000", param="depth")
        options = {
            "depth": data.depth,
            "max_pages": data.max_pages,
            "same_site": data.same_site,
            "respect_robots": data.respect_robots,
        }
        return await self._add(principal, ref, kind="url", uri=data.url, options=options)

    async def add_text(
        self, principal: Principal, ref: str, text: str, title: str | None
    ) -> Source:
        if not text.strip():
            raise ValidationFailed("the text is empty", param="text")
        name = title or text.strip().splitlines()[0].lstrip("#").strip()[:80] or "text"
        return await self._add(principal, ref, kind="text", uri=name, title=title, text=text)

    async def add_file(
        self, principal: Principal, ref: str, *, name: str, content_type: str | None, data: bytes
    ) -> Source:
        if not data:
            raise ValidationFailed(f"the file '{name}' is empty", param="file")
        blob = await self.blobs.put(data)
        return await self._add(
            principal, ref, kind="file", uri=name, content_type=content_type, blob=blob
        )

    async def _add(self, principal: Principal, ref: str, **values: Any) -> Source:
        """Store a source and queue its ingestion in one transaction: an acknowledged source
        is always ingested, even if the process stops right after."""
        kb = await self._writable(principal, ref)
        async with self.db.transaction() as session:
            source = await KnowledgeRepository(session).add_source(kb.id, **values)
            for version in filter(None, (kb.active_version, kb.building_version)):
                await self._enqueue(session, kb, source, version)
            await self.audit.record(
                "knowledge.source_added",
                actor=principal,
                target_type=RESOURCE_TYPE,
                target_id=kb.id,
                details={"kind": source.kind, "uri": source.uri},
                session=session,
            )
        self.jobs.wake()
        return source

    async def sources(self, principal: Principal, ref: str) -> list[Source]:
        kb = await self.get(principal, ref)
        async with self.db.transaction() as session:
            return await KnowledgeRepository(session).sources(kb.id)

    async def remove_source(self, principal: Principal, ref: str, source_id: str) -> None:
        kb = await self._writable(principal, ref)
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            source = await repo.source(source_id)
            if source is None or source.kb_id != kb.id:
                raise NotFound(f"no source '{source_id}' in '{kb.name}'", param="source_id")
            documents = await repo.documents(kb.id, source_id=source_id)
            await repo.delete_source(source_id)
        for document in documents:
            await self.store.delete(kb.id, document_id=document.id)

    async def documents(
        self, principal: Principal, ref: str
    ) -> tuple[KnowledgeBase, list[Document]]:
        """The documents of the live version, and of the one being built, if any."""
        kb = await self.get(principal, ref)
        async with self.db.transaction() as session:
            documents = await KnowledgeRepository(session).documents(kb.id)
        versions = {kb.active_version, kb.building_version}
        return kb, [d for d in documents if d.version in versions]

    async def access(self, principal: Principal, kb: KnowledgeBase) -> str:
        """What the principal may do with a base it can read: `owner`, `edit` or `use`."""
        if principal.is_admin or kb.owner_id == principal.user_id:
            return "owner"
        return "edit" if await self.grants.allows(principal, kb.id, GrantPermission.EDIT) else "use"

    async def links(self, hits: Sequence[Hit]) -> dict[str, str | None]:
        """Where each hit's document opens: its web page, its stored file (at the page for a
        PDF), or nothing (inline text). Keyed by chunk id."""
        async with self.db.transaction() as session:
            documents = await KnowledgeRepository(session).documents_in(
                {h.chunk.document_id for h in hits}
            )
        links: dict[str, str | None] = {}
        for hit in hits:
            chunk, document = hit.chunk, documents.get(hit.chunk.document_id)
            if chunk.source.startswith(("http://", "https://")):
                links[chunk.id] = chunk.source
            elif document is not None and document.blob is not None:
                url = f"/api/v1/knowledge/{chunk.kb_id}/documents/{chunk.document_id}/file"
                links[chunk.id] = f"{url}#page={chunk.page}" if chunk.page else url
            else:
                links[chunk.id] = None
        return links

    async def pending(self, kb: KnowledgeBase) -> int:
        """Sources still to ingest (queued or running): 0 once everything has settled."""
        return await self.jobs.pending(f"{INGEST}:{kb.id}:")

    async def document(self, principal: Principal, ref: str, document_id: str) -> Document:
        kb = await self.get(principal, ref)
        async with self.db.transaction() as session:
            document = await KnowledgeRepository(session).document(document_id)
        if document is None or document.kb_id != kb.id:
            raise NotFound(f"no document '{document_id}' in '{kb.name}'", param="document_id")
        return document

    # -- versions ----------------------------------------------------------------------------

    async def refresh(
        self, principal: Principal | None, ref: str, *, model: str | None = None
    ) -> int:
        """Index every source again into a new version; returns it."""
        kb = await (self._writable(principal, ref) if principal else self._by_id(ref))
        if kb.building_version is not None and model is None:
            return kb.building_version
        version = max(kb.active_version, kb.building_version or 0) + 1
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            await repo.update(kb.id, building_version=version, building_model=model)
            building = await repo.get(kb.id)
            assert building is not None
            for source in await repo.sources(kb.id):
                await self._enqueue(session, building, source, version)
        self.jobs.wake()
        await self._finish_version(kb.id, version)
        return version

    async def _enqueue(
        self, session: AsyncSession, kb: KnowledgeBase, source: Source, version: int
    ) -> None:
        """Queue a source's ingestion into `version`, its first document shown as queued."""
        await KnowledgeRepository(session).upsert_document(
            kb_id=kb.id,
            source_id=source.id,
            version=version,
            uri=source.uri,
            state="queued",
            error=None,
            progress=0.0,
            chunks=0,
        )
        payload: dict[str, Any] = {"kb": kb.id, "source": source.id, "version": version}
        if version == kb.building_version and kb.building_model:
            payload["model"] = kb.building_model
        await JobRepository(session).enqueue(INGEST, ingest_key(kb.id, version, source.id), payload)

    async def _ingest(self, job: Job) -> None:
        await self.ingestor.run(job)
        await self._finish_version(job.payload["kb"], int(job.payload["version"]), job=job)

    async def _finish_version(self, kb_id: str, version: int, *, job: Job | None = None) -> None:
        """Switch a base to `version` once nothing of it is left to do."""
        kb = await self._by_id(kb_id)
        if kb.building_version != version:
            return
        left = await self.jobs.pending(version_prefix(kb_id, version))
        if left > (1 if job is not None else 0):
            return
        values: dict[str, Any] = {
            "active_version": version,
            "building_version": None,
            "building_model": None,
        }
        if kb.building_model:
            values["embedding_model"] = kb.building_model
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            await repo.update(kb_id, **values)
            await repo.delete_documents(kb_id, below_version=version)
        await self.store.delete(kb_id, below_version=version)
        log.info("knowledge base %s now reads version %d", kb.name, version)

    async def refresh_due(self) -> None:
        """Refresh the bases whose cron schedule says so, every minute, until cancelled."""
        while True:
            await asyncio.sleep(SCHEDULE_SECONDS)
            await self.refresh_due_now()

    async def refresh_due_now(self) -> None:
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            due = await repo.due_for_refresh()
            for kb in due:
                await repo.update(kb.id, next_refresh_at=_next_run(kb.schedule))
        for kb in due:
            log.info("knowledge base %s is due for its scheduled refresh", kb.name)
            await self.refresh(None, kb.id)

    # -- retrieval ---------------------------------------------------------------------------

    async def query(
        self,
        principal: Principal,
        refs: Sequence[str],
        text: str,
        *,
        top_k: int = 5,
        threshold: float | None = None,
        mode: SearchMode = "hybrid",
        reranking: Rerank | None = None,
    ) -> list[Hit]:
        """The chunks best answering `text` among the named bases the caller may read."""
        if not text.strip():
            raise ValidationFailed("the query is empty", param="query")
        if not 1 <= top_k <= MAX_TOP_K:
            raise ValidationFailed(f"top_k must be 1-{MAX_TOP_K}", param="top_k")
        kbs = [await self.get(principal, ref) for ref in refs]
        return await self.search(
            kbs,
            text,
            top_k=top_k,
            threshold=threshold,
            mode=mode,
            caller=Caller.of(principal),
            reranking=reranking,
        )

    async def of_session(self, session_id: str) -> list[KnowledgeBase]:
        async with self.db.transaction() as session:
            return await KnowledgeRepository(session).of_session(session_id)

    async def readable(self, principal: Principal, ids: Sequence[str]) -> list[KnowledgeBase]:
        async with self.db.transaction() as session:
            return await KnowledgeRepository(session).readable(principal, ids=ids)

    async def search(
        self,
        kbs: Sequence[KnowledgeBase],
        text: str,
        *,
        top_k: int,
        threshold: float | None = None,
        mode: SearchMode = "hybrid",
        caller: Caller | None = None,
        reranking: Rerank | None = None,
    ) -> list[Hit]:
        """Search bases already authorised (the caller's, or an app's attached ones).

        With `reranking`, more candidates are retrieved (3x, up to 50) and the reranker picks
        the best `top_k` of them.
        """
        caller = caller or Caller()
        wanted = min(MAX_RERANK, top_k * 3) if reranking else top_k
        hits = await self._retrieve(kbs, text, wanted, threshold, mode, caller)
        if reranking is not None:
            hits = await rerank(self.router, reranking, text, hits, caller)
        return hits[:top_k]

    async def _retrieve(
        self,
        kbs: Sequence[KnowledgeBase],
        text: str,
        top_k: int,
        threshold: float | None,
        mode: SearchMode,
        caller: Caller,
    ) -> list[Hit]:
        by_model: dict[str, dict[str, int]] = {}
        for kb in kbs:
            by_model.setdefault(kb.embedding_model, {})[kb.id] = kb.active_version
        hits: list[Hit] = []
        for model, scopes in by_model.items():
            vector = None
            if mode != "keyword":
                _, result = await self.router.embed(model, [text], input_type=QUERY, caller=caller)
                vector = result.vectors[0]
            hits += await self.store.search(
                vector=vector,
                text=text,
                scopes=scopes,
                top_k=top_k,
                mode=mode,
                threshold=threshold,
            )
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:top_k]

    # -- helpers -----------------------------------------------------------------------------

    async def _writable(
        self, principal: Principal, ref: str, *, owner_only: bool = False
    ) -> KnowledgeBase:
        kb = await self.get(principal, ref)
        if principal.is_admin or kb.owner_id == principal.user_id:
            return kb
        if not owner_only and await self.grants.allows(principal, kb.id, GrantPermission.EDIT):
            return kb
        raise PermissionDenied(f"you may read '{kb.name}' but not change it")

    async def _by_id(self, kb_id: str) -> KnowledgeBase:
        async with self.db.transaction() as session:
            kb = await KnowledgeRepository(session).get(kb_id)
        if kb is None:
            raise NotFound(f"no knowledge base '{kb_id}'")
        return kb

    async def _embedding_model(self, model: str | None) -> str:
        """The model id to record: the one asked for, or the server's default embedder."""
        _, info = await self.catalog.resolve(model, purpose="embedding")
        if info.kind != "embedding":
            raise ValidationFailed(
                f"'{info.id}' is not an embedding model", param="embedding_model"
            )
        return info.id

    def _chunking(self, size: int | None, overlap: int | None) -> tuple[int, int]:
        size = size or self.settings.chunk_size
        overlap = self.settings.chunk_overlap if overlap is None else overlap
        if not 32 <= size <= 8192 or not 0 <= overlap < size:
            raise ValidationFailed(
                "chunk_size must be 32-8192 and chunk_overlap below it", param="chunk_size"
            )
        return size, overlap


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 100 or "/" in name:
        raise ValidationFailed(
            "a knowledge base needs a name of 1-100 characters without '/'", param="name"
        )


def _check_schedule(schedule: Any) -> str | None:
    if schedule in (None, ""):
        return None
    if not isinstance(schedule, str) or not croniter.is_valid(schedule):
        raise ValidationFailed(
            f"'{schedule}' is not a cron schedule (e.g. '0 3 * * *' for 03:00 every day)",
            param="schedule",
        )
    return schedule


def _next_run(schedule: Any) -> datetime | None:
    if not schedule:
        return None
    return croniter(str(schedule), datetime.now(UTC)).get_next(datetime)  # type: ignore[no-any-return]


class KnowledgeShares:
    """Knowledge bases as a shareable resource: owned by a user; `use` reads, `edit` changes."""

    name = RESOURCE_TYPE
    permissions = frozenset({GrantPermission.USE, GrantPermission.EDIT})
    open_without_grants = False
    owned = True

    def __init__(self, db: Database):
        self.db = db

    async def find(self, resource_id: str) -> SharedResource | None:
        async with self.db.transaction() as session:
            kb = await KnowledgeRepository(session).get(resource_id)
        return SharedResource(type=self.name, id=kb.id, owner_id=kb.owner_id) if kb else None

    async def transfer(self, session: AsyncSession, resource_id: str, to_user_id: str) -> None:
        await KnowledgeRepository(session).update(resource_id, owner_id=to_user_id)

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> int:
        repo = KnowledgeRepository(session)
        owned = await repo.owned_by(from_user_id)
        await repo.hand_over(from_user_id, to_user_id)
        return len(owned)


class KnowledgeOwnedData:
    """A deleted user's knowledge bases move to the heir, or go (with their chunks)."""

    def __init__(self, store: VectorStore):
        self.store = store

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> None:
        await KnowledgeRepository(session).hand_over(from_user_id, to_user_id)

    async def erase(self, session: AsyncSession, user_id: str) -> None:
        repo = KnowledgeRepository(session)
        for kb_id in await repo.owned_by(user_id):
            await repo.delete(kb_id)
            await self.store.delete(kb_id)
