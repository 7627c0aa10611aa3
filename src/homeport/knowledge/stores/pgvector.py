"""The production vector store: pgvector (HNSW) and full-text search in the main PostgreSQL.

The store owns its schema: `open()` creates the `vector` extension, the `knowledge_chunks`
table and its indexes if they are missing (under an advisory lock, so replicas starting
together do not race), outside Alembic's migrations. `knowledge_chunks` holds every
dimension in one `embedding vector` column (no fixed size) beside `dims`; the first chunk of
a dimension N creates a partial HNSW index on `embedding::vector(N)` where `dims = N`
(`halfvec` above 2,000 dimensions, which is HNSW's limit for `vector`; no index above
4,000, where search is exact). A generated `tsvector` (title and section weighted below the
text) with a GIN index serves keyword search.

It talks to PostgreSQL through its own asyncpg pool on the main database's URL, not through
SQLAlchemy: pgvector's binary codec is registered on each connection (vectors travel as
floats, not text), bulk adds are pipelined by `executemany`, and a search sets
`hnsw.iterative_scan` and `hnsw.ef_search` with `SET LOCAL` in its own short transaction.
Iterative scans (pgvector 0.8) keep walking the graph until enough rows pass the scope
filter, so the filter does not cut recall; `relaxed_order` results are re-sorted exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from pgvector.asyncpg import register_vector

from homeport.domain.knowledge import Hit, IndexedChunk, SearchMode
from homeport.knowledge.stores.base import (
    Ranked,
    dimensions_of,
    make_query,
    run_search,
    scope_key,
    websearch_query,
)

SCHEMA_LOCK = 0x6B6E6F77  # pg_advisory_xact_lock key for schema changes ("knov")
HNSW_VECTOR_LIMIT = 2000
HNSW_HALFVEC_LIMIT = 4000
EF_SEARCH = 100
EF_SEARCH_LIMIT = 1000

SCHEMA = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS knowledge_chunks (
    id text PRIMARY KEY,
    kb_id text NOT NULL,
    version integer NOT NULL,
    scope text NOT NULL,
    document_id text NOT NULL,
    ordinal integer NOT NULL,
    text text NOT NULL,
    source text NOT NULL,
    title text,
    section text,
    page integer,
    dims integer NOT NULL,
    embedding vector NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', text), 'A')
        || setweight(to_tsvector('simple', coalesce(section, '')), 'B')
        || setweight(to_tsvector('simple', coalesce(title, '')), 'B')
    ) STORED
);
CREATE INDEX IF NOT EXISTS knowledge_chunks_kb ON knowledge_chunks (kb_id, version, document_id);
CREATE INDEX IF NOT EXISTS knowledge_chunks_scope ON knowledge_chunks (scope);
CREATE INDEX IF NOT EXISTS knowledge_chunks_tsv ON knowledge_chunks USING gin (tsv);
"""

COLUMNS = "id, kb_id, version, document_id, ordinal, text, source, title, section, page"

UPSERT = f"""
INSERT INTO knowledge_chunks ({COLUMNS}, scope, dims, embedding)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (id) DO UPDATE SET
    kb_id = excluded.kb_id, version = excluded.version, document_id = excluded.document_id,
    ordinal = excluded.ordinal, text = excluded.text, source = excluded.source,
    title = excluded.title, section = excluded.section, page = excluded.page,
    scope = excluded.scope, dims = excluded.dims, embedding = excluded.embedding
"""

DENSE = """
WITH nearest AS MATERIALIZED (
    SELECT {columns}, {expression} <=> {query} AS distance
    FROM knowledge_chunks
    WHERE dims = {n} AND scope = ANY($2::text[])
    ORDER BY {expression} <=> {query}
    LIMIT $3
)
SELECT * FROM nearest ORDER BY distance, id
"""

KEYWORD = f"""
SELECT {COLUMNS}, ts_rank_cd(tsv, query) AS rank
FROM knowledge_chunks, websearch_to_tsquery('simple', $1) AS query
WHERE tsv @@ query AND scope = ANY($2::text[])
ORDER BY rank DESC, id
LIMIT $3
"""


def asyncpg_dsn(url: str) -> str:
    """A libpq-style URL for asyncpg from a SQLAlchemy one (`postgresql+asyncpg://...`)."""
    return "postgresql://" + url.split("://", 1)[1]


def vector_expression(n: int) -> tuple[str, str | None]:
    """How vectors of N dimensions are compared, and the operator class that indexes them
    (None where HNSW cannot)."""
    if n <= HNSW_VECTOR_LIMIT:
        return f"(embedding::vector({n}))", "vector_cosine_ops"
    if n <= HNSW_HALFVEC_LIMIT:
        return f"(embedding::halfvec({n}))", "halfvec_cosine_ops"
    return f"(embedding::vector({n}))", None


def index_statement(n: int) -> str | None:
    """The partial HNSW index for N dimensions, or None when there is none to create."""
    expression, operators = vector_expression(n)
    if operators is None:
        return None
    return (
        f"CREATE INDEX IF NOT EXISTS knowledge_chunks_hnsw_{n} ON knowledge_chunks "
        f"USING hnsw ({expression} {operators}) WHERE dims = {n}"
    )


def dense_statement(n: int) -> str:
    expression, _ = vector_expression(n)
    kind = "halfvec" if "halfvec" in expression else "vector"
    query = f"($1::vector({n}))::{kind}({n})"
    return DENSE.format(columns=COLUMNS, expression=expression, query=query, n=n)


def ef_search(limit: int, base: int = EF_SEARCH) -> int:
    """The HNSW candidate list for a query wanting `limit` rows."""
    return min(max(base, 2 * limit), EF_SEARCH_LIMIT)


class PgVectorStore:
    """`VectorStore` on pgvector + PostgreSQL full-text search; see the module docstring."""

    def __init__(self, url: str, *, pool_size: int = 10, ef_search: int = EF_SEARCH):
        self.dsn = asyncpg_dsn(url)
        self.pool_size = pool_size
        self.ef_search = ef_search
        self._pool: Any = None
        self._indexed: set[int] = set()

    async def open(self) -> None:
        if self._pool is not None:
            return
        connection = await asyncpg.connect(self.dsn)
        try:
            await _locked(connection, SCHEMA)
        finally:
            await connection.close()
        self._pool = await asyncpg.create_pool(
            self.dsn, min_size=1, max_size=self.pool_size, init=register_vector
        )
        self._indexed = await self._existing_indexes()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def add(self, chunks: Sequence[IndexedChunk]) -> None:
        unique = list({chunk.id: chunk for chunk in chunks}.values())
        for n in sorted({dimensions_of(chunk.vector) for chunk in unique}):
            await self._ensure_index(n)
        if not unique:
            return
        async with self._open_pool().acquire() as connection, connection.transaction():
            await connection.executemany(UPSERT, [_row(chunk) for chunk in unique])

    async def delete(
        self,
        kb_id: str,
        *,
        version: int | None = None,
        below_version: int | None = None,
        document_id: str | None = None,
    ) -> int:
        where, params = _conditions(kb_id, version, below_version, document_id)
        status = await self._open_pool().execute(
            f"DELETE FROM knowledge_chunks WHERE {where}", *params
        )
        return int(status.rsplit(" ", 1)[-1])

    async def count(self, kb_id: str, version: int | None = None) -> int:
        where, params = _conditions(kb_id, version, None, None)
        sql = f"SELECT count(*) FROM knowledge_chunks WHERE {where}"
        return int(await self._open_pool().fetchval(sql, *params))

    async def search(
        self,
        *,
        vector: list[float] | None,
        text: str | None,
        scopes: Mapping[str, int],
        top_k: int,
        mode: SearchMode = "hybrid",
        threshold: float | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        query = make_query(
            vector=vector,
            text=text,
            scopes=scopes,
            top_k=top_k,
            mode=mode,
            threshold=threshold,
            candidates=candidates,
        )
        return await run_search(query, self._dense, self._keyword)

    async def _dense(self, vector: list[float], scopes: list[str], limit: int) -> Ranked:
        n = len(vector)
        async with self._open_pool().acquire() as connection, connection.transaction():
            await connection.execute(
                "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),"
                " set_config('hnsw.ef_search', $1, true)",
                str(ef_search(limit, self.ef_search)),
            )
            rows = await connection.fetch(dense_statement(n), vector, scopes, limit)
        return [(_chunk(row), 1.0 - float(row["distance"])) for row in rows]

    async def _keyword(self, text: str, scopes: list[str], limit: int) -> Ranked:
        query = websearch_query(text)
        if query is None:
            return []
        rows = await self._open_pool().fetch(KEYWORD, query, scopes, limit)
        return [(_chunk(row), float(row["rank"])) for row in rows]

    async def _ensure_index(self, n: int) -> None:
        statement = index_statement(n)
        if n in self._indexed or statement is None:
            return
        async with self._open_pool().acquire() as connection:
            await _locked(connection, statement)
        self._indexed.add(n)

    async def _existing_indexes(self) -> set[int]:
        rows = await self._open_pool().fetch(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'knowledge_chunks'"
        )
        names = (re.fullmatch(r"knowledge_chunks_hnsw_(\d+)", row["indexname"]) for row in rows)
        return {int(match.group(1)) for match in names if match}

    def _open_pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("the knowledge store is not open")
        return self._pool


async def _locked(connection: Any, statement: str) -> None:
    """Run DDL in a transaction that holds the schema lock."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK)
        await connection.execute(statement)


def _conditions(
    kb_id: str, version: int | None, below_version: int | None, document_id: str | None
) -> tuple[str, list[object]]:
    given: dict[str, object] = {
        "kb_id = ${}": kb_id,
        "version = ${}": version,
        "version < ${}": below_version,
        "document_id = ${}": document_id,
    }
    used = [(clause, value) for clause, value in given.items() if value is not None]
    where = " AND ".join(clause.format(i) for i, (clause, _) in enumerate(used, start=1))
    return where, [value for _, value in used]


def _row(chunk: IndexedChunk) -> tuple[object, ...]:
    return (
        chunk.id,
        chunk.kb_id,
        chunk.version,
        chunk.document_id,
        chunk.ordinal,
        chunk.text,
        chunk.source,
        chunk.title,
        chunk.section,
        chunk.page,
        scope_key(chunk.kb_id, chunk.version),
        len(chunk.vector),
        chunk.vector,
    )


def _chunk(row: Any) -> IndexedChunk:
    return IndexedChunk(
        id=row["id"],
        kb_id=row["kb_id"],
        version=row["version"],
        document_id=row["document_id"],
        ordinal=row["ordinal"],
        text=row["text"],
        source=row["source"],
        title=row["title"],
        section=row["section"],
        page=row["page"],
    )
