"""The production vector store: pgvector (HNSW) and full-text search in the main PostgreSQL.

The store owns its schema: `open()` creates the `vector` extension and its tables and
indexes if they are missing (under an advisory lock, so replicas starting together do not
race), outside Alembic's migrations. `knowledge_chunks` holds every dimension in one
`embedding vector` column (no fixed size) beside `dims`; the first chunk of a dimension N
creates a partial HNSW index on `embedding::vector(N)` where `dims = N` (`halfvec` above
2,000 dimensions, HNSW's limit for `vector`; none above 4,000, where search is exact). A
generated `tsvector` (title and section weighted below the text) with a GIN index serves
keyword search; how many chunks hold each common word comes from the planner's statistics
on it (`pg_stats`, kept by autovacuum's ANALYZE), read every few minutes. `knowledge_scopes`
counts the chunks of each scope and dimension, kept in the same transactions as the chunks.

Dense search picks its path from those counts, in the same transaction as the query:

- at most `exact_rows` chunks in scope (default 20,000): exact search over them, found
  through the scope index; recall is 1 and the cost grows with the scope, not the table;
- more: the HNSW index with an iterative scan (pgvector 0.8, `relaxed_order`, re-sorted
  exactly afterwards), which keeps walking the graph until enough rows pass the scope filter,
  and `ef_search` raised in proportion to the share of rows filtered out, so the graph
  search still weighs about `ef_search` candidates in scope. Both are `SET LOCAL`.

It talks to PostgreSQL through its own asyncpg pool on the main database's URL, not through
SQLAlchemy: pgvector's binary codec is registered on each connection (vectors travel as
floats, not text), adds are pipelined by `executemany`, and the pool's sessions run with
JIT compilation off (it costs milliseconds per query and helps none of these).
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from pgvector.asyncpg import register_vector

from homeport.domain.knowledge import Hit, IndexedChunk, SearchMode
from homeport.knowledge.stores.base import (
    Ranked,
    dimensions_of,
    keyword_terms,
    make_query,
    rare_terms,
    run_search,
    scope_key,
    websearch_query,
)

SCHEMA_LOCK = 0x6B6E6F77  # pg_advisory_xact_lock key for schema changes ("knov")
HNSW_VECTOR_LIMIT = 2000
HNSW_HALFVEC_LIMIT = 4000
EF_SEARCH = 100
EF_SEARCH_LIMIT = 1000
EXACT_ROWS = 20_000
WORD_STATS_SECONDS = 300.0

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
CREATE TABLE IF NOT EXISTS knowledge_scopes (
    scope text NOT NULL,
    dims integer NOT NULL,
    chunks bigint NOT NULL,
    PRIMARY KEY (scope, dims)
);
"""

COLUMNS = "id, kb_id, version, document_id, ordinal, text, source, title, section, page"

INSERT = f"""
INSERT INTO knowledge_chunks ({COLUMNS}, scope, dims, embedding)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
"""

COUNT_ADDED = """
INSERT INTO knowledge_scopes (scope, dims, chunks)
SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
ON CONFLICT (scope, dims) DO UPDATE SET chunks = knowledge_scopes.chunks + excluded.chunks
"""

DELETE_COUNTED = """
WITH gone AS (
    DELETE FROM knowledge_chunks WHERE {where} RETURNING scope, dims
), counted AS (
    SELECT scope, dims, count(*) AS chunks FROM gone GROUP BY scope, dims
), uncounted AS (
    UPDATE knowledge_scopes s SET chunks = s.chunks - counted.chunks
    FROM counted WHERE s.scope = counted.scope AND s.dims = counted.dims
)
SELECT coalesce(sum(chunks), 0) FROM counted
"""

SIZES = """
SELECT coalesce(sum(chunks) FILTER (WHERE scope = ANY($2::text[])), 0) AS in_scope,
       coalesce(sum(chunks), 0) AS total
FROM knowledge_scopes WHERE dims = $1
"""

EXACT = """
WITH scored AS MATERIALIZED (
    SELECT id, embedding <=> $1::vector AS distance
    FROM knowledge_chunks
    WHERE dims = {n} AND scope = ANY($2::text[])
), nearest AS (
    SELECT id, distance FROM scored ORDER BY distance, id LIMIT $3
)
SELECT {columns}, distance FROM nearest JOIN knowledge_chunks USING (id)
ORDER BY distance, id
"""

HNSW = """
WITH nearest AS MATERIALIZED (
    SELECT {columns}, {expression} <=> {query} AS distance
    FROM knowledge_chunks
    WHERE dims = {n} AND scope = ANY($2::text[])
    ORDER BY {expression} <=> {query}
    LIMIT $3
)
SELECT * FROM nearest ORDER BY distance, id
"""

SET_HNSW = """
SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true),
       set_config('hnsw.ef_search', $1, true)
"""

WORD_STATS = """
SELECT most_common_elems::text::text[] AS words, most_common_elem_freqs AS shares,
       (SELECT reltuples FROM pg_class WHERE oid = 'knowledge_chunks'::regclass) AS total
FROM pg_stats
WHERE schemaname = current_schema() AND tablename = 'knowledge_chunks' AND attname = 'tsv'
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


def hnsw_statement(n: int) -> str:
    """Nearest neighbours of N dimensions in scope through the HNSW index."""
    expression, _ = vector_expression(n)
    kind = "halfvec" if "halfvec" in expression else "vector"
    query = f"($1::vector({n}))::{kind}({n})"
    return HNSW.format(columns=COLUMNS, expression=expression, query=query, n=n)


def exact_statement(n: int) -> str:
    """Nearest neighbours of N dimensions in scope by comparing every one (no index)."""
    return EXACT.format(columns=COLUMNS, n=n)


def ef_search(limit: int, *, in_scope: int, total: int, base: int = EF_SEARCH) -> int:
    """The HNSW candidate list: `base` candidates in scope, at least `limit`, at most 1,000."""
    wanted = math.ceil(base * total / max(in_scope, 1))
    return min(max(wanted, base, limit), EF_SEARCH_LIMIT)


class PgVectorStore:
    """`VectorStore` on pgvector + PostgreSQL full-text search; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        ef_search: int = EF_SEARCH,
        exact_rows: int = EXACT_ROWS,
    ):
        self.dsn = asyncpg_dsn(url)
        self.pool_size = pool_size
        self.ef_search = ef_search
        self.exact_rows = exact_rows
        self._pool: Any = None
        self._indexed: set[int] = set()
        self._word_counts: dict[str, float] = {}
        self._words_total = 0.0
        self._word_stats_at = -math.inf

    async def open(self) -> None:
        if self._pool is not None:
            return
        connection = await asyncpg.connect(self.dsn)
        try:
            await _locked(connection, SCHEMA)
        finally:
            await connection.close()
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            init=register_vector,
            server_settings={"jit": "off"},
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
            ids = [chunk.id for chunk in unique]
            await _delete_counted(connection, "id = ANY($1::text[])", [ids])
            await connection.executemany(INSERT, [_row(chunk) for chunk in unique])
            await connection.execute(COUNT_ADDED, *_counts(unique))

    async def delete(
        self,
        kb_id: str,
        *,
        version: int | None = None,
        below_version: int | None = None,
        document_id: str | None = None,
    ) -> int:
        where, params = _conditions(kb_id, version, below_version, document_id)
        async with self._open_pool().acquire() as connection, connection.transaction():
            return await _delete_counted(connection, where, params)

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
            sizes = await connection.fetchrow(SIZES, n, scopes)
            in_scope, total = int(sizes["in_scope"]), int(sizes["total"])
            if in_scope <= self.exact_rows or index_statement(n) is None:
                statement = exact_statement(n)
            else:
                ef = ef_search(limit, in_scope=in_scope, total=total, base=self.ef_search)
                await connection.execute(SET_HNSW, str(ef))
                statement = hnsw_statement(n)
            rows = await connection.fetch(statement, vector, scopes, limit)
        return [(_chunk(row), 1.0 - float(row["distance"])) for row in rows]

    async def _keyword(self, text: str, scopes: list[str], limit: int) -> Ranked:
        query = websearch_query(await self._rare_terms(keyword_terms(text)))
        if query is None:
            return []
        rows = await self._open_pool().fetch(KEYWORD, query, scopes, limit)
        return [(_chunk(row), float(row["rank"])) for row in rows]

    async def _rare_terms(self, terms: list[str]) -> list[str]:
        """`rare_terms` with the word counts PostgreSQL's statistics estimate for `tsv`."""
        if time.monotonic() - self._word_stats_at > WORD_STATS_SECONDS:
            row = await self._open_pool().fetchrow(WORD_STATS)
            shares = dict(zip(row["words"], row["shares"], strict=False)) if row else {}
            total = float(row["total"]) if row else 0.0
            self._word_counts = {word: share * total for word, share in shares.items()}
            self._words_total, self._word_stats_at = total, time.monotonic()
        return rare_terms(terms, self._word_counts, self._words_total)

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


async def _delete_counted(connection: Any, where: str, params: Sequence[object]) -> int:
    """Delete chunks and take them off their scopes' counts; how many went."""
    deleted = int(await connection.fetchval(DELETE_COUNTED.format(where=where), *params))
    if deleted:
        await connection.execute("DELETE FROM knowledge_scopes WHERE chunks <= 0")
    return deleted


def _counts(chunks: Sequence[IndexedChunk]) -> tuple[list[str], list[int], list[int]]:
    """Chunks per (scope, dimensions), as the three arrays COUNT_ADDED takes, in key order."""
    counted = Counter((scope_key(c.kb_id, c.version), len(c.vector)) for c in chunks)
    keys = sorted(counted)
    return [scope for scope, _ in keys], [dims for _, dims in keys], [counted[k] for k in keys]


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
