"""Knowledge bases, their sources and their documents."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.repositories.access import granted_to
from homeport.db.tables import (
    GrantRow,
    KnowledgeBaseRow,
    KnowledgeDocumentRow,
    KnowledgeSourceRow,
    utcnow,
)
from homeport.domain.ids import new_id
from homeport.domain.knowledge import Document, KnowledgeBase, Source
from homeport.domain.users import Principal

RESOURCE_TYPE = "knowledge"


def _kb(row: KnowledgeBaseRow) -> KnowledgeBase:
    return KnowledgeBase(
        id=row.id,
        name=row.name,
        description=row.description,
        owner_id=row.owner_id,
        embedding_model=row.embedding_model,
        chunk_size=row.chunk_size,
        chunk_overlap=row.chunk_overlap,
        active_version=row.active_version,
        building_version=row.building_version,
        schedule=row.schedule,
        session_id=row.session_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_refresh_at=row.next_refresh_at,
        building_model=row.building_model,
    )


def _source(row: KnowledgeSourceRow) -> Source:
    return Source(
        id=row.id,
        kb_id=row.kb_id,
        kind=row.kind,  # type: ignore[arg-type]
        uri=row.uri,
        title=row.title,
        content_type=row.content_type,
        blob=row.blob,
        options=dict(row.options or {}),
        created_at=row.created_at,
        text=row.text,
    )


def _document(row: KnowledgeDocumentRow) -> Document:
    return Document(
        id=row.id,
        kb_id=row.kb_id,
        source_id=row.source_id,
        version=row.version,
        uri=row.uri,
        title=row.title,
        content_type=row.content_type,
        state=row.state,  # type: ignore[arg-type]
        error=row.error,
        progress=row.progress,
        chunks=row.chunks,
        created_at=row.created_at,
        updated_at=row.updated_at,
        blob=row.blob,
    )


def readable_by(principal: Principal) -> Any:
    """Knowledge bases the principal owns or was granted: a filter inside the query."""
    if principal.is_admin:
        return true()
    return or_(
        KnowledgeBaseRow.owner_id == principal.user_id,
        KnowledgeBaseRow.id.in_(
            select(GrantRow.resource_id).where(granted_to(principal, resource_type=RESOURCE_TYPE))
        ),
    )


class KnowledgeRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    # -- knowledge bases ---------------------------------------------------------------------

    async def create(self, **values: Any) -> KnowledgeBase:
        row = KnowledgeBaseRow(id=new_id("kb"), **values)
        self.session.add(row)
        await self.session.flush()
        return _kb(row)

    async def get(self, kb_id: str) -> KnowledgeBase | None:
        row = await self.session.get(KnowledgeBaseRow, kb_id)
        return _kb(row) if row else None

    async def find(self, principal: Principal, ref: str) -> KnowledgeBase | None:
        """A base the principal may read, by id, or by name (their own first)."""
        query = select(KnowledgeBaseRow).where(
            readable_by(principal), (KnowledgeBaseRow.id == ref) | (KnowledgeBaseRow.name == ref)
        )
        rows = list(await self.session.scalars(query))
        rows.sort(key=lambda r: (r.id != ref, r.owner_id != principal.user_id, r.created_at))
        return _kb(rows[0]) if rows else None

    async def readable(
        self, principal: Principal, *, ids: Collection[str] | None = None, sessions: bool = False
    ) -> list[KnowledgeBase]:
        query = select(KnowledgeBaseRow).where(readable_by(principal))
        if ids is not None:
            query = query.where(KnowledgeBaseRow.id.in_(list(ids)))
        elif not sessions:
            query = query.where(KnowledgeBaseRow.session_id.is_(None))
        rows = await self.session.scalars(query.order_by(KnowledgeBaseRow.name))
        return [_kb(r) for r in rows]

    async def of_session(self, session_id: str) -> list[KnowledgeBase]:
        rows = await self.session.scalars(
            select(KnowledgeBaseRow).where(KnowledgeBaseRow.session_id == session_id)
        )
        return [_kb(r) for r in rows]

    async def update(self, kb_id: str, **values: Any) -> None:
        await self.session.execute(
            update(KnowledgeBaseRow)
            .where(KnowledgeBaseRow.id == kb_id)
            .values(updated_at=utcnow(), **values)
        )

    async def delete(self, kb_id: str) -> None:
        await self.session.execute(
            delete(KnowledgeDocumentRow).where(KnowledgeDocumentRow.kb_id == kb_id)
        )
        await self.session.execute(
            delete(KnowledgeSourceRow).where(KnowledgeSourceRow.kb_id == kb_id)
        )
        await self.session.execute(delete(KnowledgeBaseRow).where(KnowledgeBaseRow.id == kb_id))

    async def due_for_refresh(self) -> list[KnowledgeBase]:
        rows = await self.session.scalars(
            select(KnowledgeBaseRow).where(
                KnowledgeBaseRow.next_refresh_at.is_not(None),
                KnowledgeBaseRow.next_refresh_at <= utcnow(),
            )
        )
        return [_kb(r) for r in rows]

    # -- sources -----------------------------------------------------------------------------

    async def add_source(self, kb_id: str, **values: Any) -> Source:
        row = KnowledgeSourceRow(id=new_id("src"), kb_id=kb_id, **values)
        self.session.add(row)
        await self.session.flush()
        return _source(row)

    async def sources(self, kb_id: str) -> list[Source]:
        rows = await self.session.scalars(
            select(KnowledgeSourceRow)
            .where(KnowledgeSourceRow.kb_id == kb_id)
            .order_by(KnowledgeSourceRow.created_at)
        )
        return [_source(r) for r in rows]

    async def source(self, source_id: str) -> Source | None:
        row = await self.session.get(KnowledgeSourceRow, source_id)
        return _source(row) if row else None

    async def delete_source(self, source_id: str) -> None:
        await self.session.execute(
            delete(KnowledgeDocumentRow).where(KnowledgeDocumentRow.source_id == source_id)
        )
        await self.session.execute(
            delete(KnowledgeSourceRow).where(KnowledgeSourceRow.id == source_id)
        )

    # -- documents ---------------------------------------------------------------------------

    async def document(self, document_id: str) -> Document | None:
        row = await self.session.get(KnowledgeDocumentRow, document_id)
        return _document(row) if row else None

    async def upsert_document(
        self, *, kb_id: str, source_id: str, version: int, uri: str, **values: Any
    ) -> Document:
        """The document of (source, version, uri), created or reset with `values`."""
        row = await self.session.scalar(
            select(KnowledgeDocumentRow).where(
                KnowledgeDocumentRow.source_id == source_id,
                KnowledgeDocumentRow.version == version,
                KnowledgeDocumentRow.uri == uri,
            )
        )
        if row is None:
            row = KnowledgeDocumentRow(
                id=new_id("doc"), kb_id=kb_id, source_id=source_id, version=version, uri=uri
            )
            self.session.add(row)
        for field, value in values.items():
            setattr(row, field, value)
        row.updated_at = utcnow()
        await self.session.flush()
        return _document(row)

    async def set_document(self, document_id: str, **values: Any) -> None:
        await self.session.execute(
            update(KnowledgeDocumentRow)
            .where(KnowledgeDocumentRow.id == document_id)
            .values(updated_at=utcnow(), **values)
        )

    async def documents(
        self, kb_id: str, *, version: int | None = None, source_id: str | None = None
    ) -> list[Document]:
        query = select(KnowledgeDocumentRow).where(KnowledgeDocumentRow.kb_id == kb_id)
        if version is not None:
            query = query.where(KnowledgeDocumentRow.version == version)
        if source_id is not None:
            query = query.where(KnowledgeDocumentRow.source_id == source_id)
        rows = await self.session.scalars(query.order_by(KnowledgeDocumentRow.created_at))
        return [_document(r) for r in rows]

    async def documents_in(self, document_ids: Collection[str]) -> dict[str, Document]:
        rows = await self.session.scalars(
            select(KnowledgeDocumentRow).where(KnowledgeDocumentRow.id.in_(list(document_ids)))
        )
        return {r.id: _document(r) for r in rows}

    async def delete_document(self, document_id: str) -> None:
        await self.session.execute(
            delete(KnowledgeDocumentRow).where(KnowledgeDocumentRow.id == document_id)
        )

    async def delete_documents(self, kb_id: str, *, below_version: int) -> None:
        await self.session.execute(
            delete(KnowledgeDocumentRow).where(
                KnowledgeDocumentRow.kb_id == kb_id, KnowledgeDocumentRow.version < below_version
            )
        )

    async def unfinished(self, kb_id: str, version: int) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(KnowledgeDocumentRow)
            .where(
                KnowledgeDocumentRow.kb_id == kb_id,
                KnowledgeDocumentRow.version == version,
                KnowledgeDocumentRow.state.not_in(["ready", "failed"]),
            )
        )
        return int(count or 0)

    # -- owners ------------------------------------------------------------------------------

    async def hand_over(self, from_user_id: str, to_user_id: str) -> None:
        await self.session.execute(
            update(KnowledgeBaseRow)
            .where(KnowledgeBaseRow.owner_id == from_user_id)
            .values(owner_id=to_user_id)
        )

    async def owned_by(self, user_id: str) -> list[str]:
        rows = await self.session.scalars(
            select(KnowledgeBaseRow.id).where(KnowledgeBaseRow.owner_id == user_id)
        )
        return list(rows)
