"""The single-node vector store: sqlite-vec for vectors, FTS5 for words, in one SQLite file.

`data_dir/knowledge.db` (WAL) is its own file, apart from the main database, opened with
sqlean (whose SQLite may load extensions) plus the sqlite-vec extension, and read through a
memory map (a k-nearest-neighbour query reads every vector in scope: copying them through
SQLite's page cache instead makes it about twice as slow). One connection lives on one
worker thread; every call goes through that thread, so the event loop never waits on SQLite.

Tables:

- `chunks`: one row per chunk, its metadata and its text; `rowid` links it to the others.
- `vec_<N>`: a `vec0` table per embedding dimension N (cosine distance), with `scope` as a
  metadata column so `scope IN (...)` is applied during the k-nearest-neighbour scan.
- `chunks_fts`: an FTS5 index over text, section and title, external content on `chunks`,
  ranked by bm25; `chunks_vocab` tells how many chunks hold each word.

Triggers on `chunks` keep the other tables in step, so deleting a chunk row deletes the rest.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from homeport.domain.knowledge import Hit, IndexedChunk, SearchMode
from homeport.knowledge.stores.base import (
    Ranked,
    dimensions_of,
    fts5_query,
    keyword_terms,
    make_query,
    rare_terms,
    run_search,
    scope_key,
)

T = TypeVar("T")

MAX_K = 4096  # the most neighbours sqlite-vec returns per query
ID_BATCH = 500
MMAP_BYTES = 1 << 34  # read through a memory map (SQLite caps it at its compiled maximum)

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kb_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    scope TEXT NOT NULL,
    document_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL,
    title TEXT,
    section TEXT,
    page INTEGER,
    dims INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_kb ON chunks (kb_id, version, document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5 (
    text, section, title, content = 'chunks', content_rowid = 'rowid'
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab (chunks_fts, row);
CREATE TRIGGER IF NOT EXISTS chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, text, section, title)
    VALUES (new.rowid, new.text, new.section, new.title);
END;
CREATE TRIGGER IF NOT EXISTS chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, text, section, title)
    VALUES ('delete', old.rowid, old.text, old.section, old.title);
END;
"""

VEC_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS vec_{n} USING vec0 (
    embedding float[{n}] distance_metric=cosine,
    scope text
);
CREATE TRIGGER IF NOT EXISTS vec_{n}_delete AFTER DELETE ON chunks WHEN old.dims = {n} BEGIN
    DELETE FROM vec_{n} WHERE rowid = old.rowid;
END;
"""

CHUNK_COLUMNS = "c.id, c.kb_id, c.version, c.document_id, c.ordinal, c.text, c.source, " + (
    "c.title, c.section, c.page"
)

INSERT_CHUNK = """
INSERT INTO chunks (id, kb_id, version, scope, document_id, ordinal, text, source, title,
                    section, page, dims)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

DENSE = """
WITH knn AS (
    SELECT rowid, distance FROM vec_{n}
    WHERE embedding MATCH ? AND k = ? AND scope IN (SELECT value FROM json_each(?))
)
SELECT {columns}, knn.distance FROM knn JOIN chunks c ON c.rowid = knn.rowid
ORDER BY knn.distance
"""

KEYWORD = f"""
SELECT {CHUNK_COLUMNS}, bm25(chunks_fts) AS rank
FROM chunks_fts JOIN chunks c ON c.rowid = chunks_fts.rowid
WHERE chunks_fts MATCH ? AND c.scope IN (SELECT value FROM json_each(?))
ORDER BY rank, c.id LIMIT ?
"""


def connect(path: Path) -> Any:
    """A sqlean connection to `path` in WAL mode with sqlite-vec loaded."""
    import sqlean
    import sqlite_vec

    connection = sqlean.connect(str(path), isolation_level=None)
    connection.enable_load_extension(True)
    sqlite_vec.load(connection)
    connection.enable_load_extension(False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    return connection


class SqliteIndex:
    """The store's synchronous half: one connection, used from one thread only."""

    def __init__(self, path: Path):
        self.connection = connect(path)
        self.connection.executescript(SCHEMA)
        self.dimensions: set[int] = set()

    def close(self) -> None:
        self.connection.close()

    def add(self, chunks: Sequence[IndexedChunk]) -> None:
        unique = list({chunk.id: chunk for chunk in chunks}.values())
        for n in {dimensions_of(chunk.vector) for chunk in unique}:
            self._ensure_dimension(n)
        with self._transaction():
            self._delete_ids([chunk.id for chunk in unique])
            for chunk in unique:
                self._insert(chunk)

    def delete(
        self, kb_id: str, version: int | None, below_version: int | None, document_id: str | None
    ) -> int:
        where, params = _conditions(kb_id, version, below_version, document_id)
        with self._transaction():
            cursor = self.connection.execute(f"DELETE FROM chunks WHERE {where}", params)
            return int(cursor.rowcount)

    def count(self, kb_id: str, version: int | None) -> int:
        where, params = _conditions(kb_id, version, None, None)
        row = self.connection.execute(f"SELECT count(*) FROM chunks WHERE {where}", params)
        return int(row.fetchone()[0])

    def dense(self, vector: list[float], scopes: list[str], limit: int) -> Ranked:
        n = len(vector)
        if not self._has_dimension(n):
            return []
        rows = self.connection.execute(
            DENSE.format(n=n, columns=CHUNK_COLUMNS),
            (_float32(vector), min(limit, MAX_K), json.dumps(scopes)),
        )
        return [(_chunk(row), 1.0 - float(row[-1])) for row in rows]

    def keyword(self, text: str, scopes: list[str], limit: int) -> Ranked:
        match = fts5_query(self._rare_terms(keyword_terms(text)))
        if match is None:
            return []
        rows = self.connection.execute(KEYWORD, (match, json.dumps(scopes), limit))
        return [(_chunk(row), -float(row[-1])) for row in rows]

    def _rare_terms(self, terms: list[str]) -> list[str]:
        if not terms:
            return []
        marks = ", ".join("?" * len(terms))
        rows = self.connection.execute(
            f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", terms
        )
        total = self.connection.execute("SELECT count(*) FROM chunks").fetchone()[0]
        return rare_terms(terms, dict(rows.fetchall()), total)

    def _insert(self, chunk: IndexedChunk) -> None:
        scope = scope_key(chunk.kb_id, chunk.version)
        cursor = self.connection.execute(INSERT_CHUNK, _chunk_row(chunk, scope))
        self.connection.execute(
            f"INSERT INTO vec_{len(chunk.vector)} (rowid, embedding, scope) VALUES (?, ?, ?)",
            (cursor.lastrowid, _float32(chunk.vector), scope),
        )

    def _delete_ids(self, ids: list[str]) -> None:
        for start in range(0, len(ids), ID_BATCH):
            batch = ids[start : start + ID_BATCH]
            marks = ", ".join("?" * len(batch))
            self.connection.execute(f"DELETE FROM chunks WHERE id IN ({marks})", batch)

    def _ensure_dimension(self, n: int) -> None:
        if n not in self.dimensions:
            self.connection.executescript(VEC_TABLE.format(n=n))
            self.dimensions.add(n)

    def _has_dimension(self, n: int) -> bool:
        if n not in self.dimensions:
            found = self.connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (f"vec_{n}",)
            ).fetchone()
            if found:
                self.dimensions.add(n)
        return n in self.dimensions

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when the block raises."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")


class SqliteVecStore:
    """`VectorStore` on sqlite-vec + FTS5; see the module docstring."""

    def __init__(self, path: Path):
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._index: SqliteIndex | None = None

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-db")
        self._index = await self._run(SqliteIndex, self.path)

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._index is not None:
            await self._run(self._index.close)
        self._executor.shutdown(wait=True)
        self._executor = self._index = None

    async def add(self, chunks: Sequence[IndexedChunk]) -> None:
        if chunks:
            await self._run(self._open_index().add, list(chunks))

    async def delete(
        self,
        kb_id: str,
        *,
        version: int | None = None,
        below_version: int | None = None,
        document_id: str | None = None,
    ) -> int:
        index = self._open_index()
        return await self._run(index.delete, kb_id, version, below_version, document_id)

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
        index = self._open_index()
        return await run_search(
            query,
            lambda v, s, n: self._run(index.dense, v, s, n),
            lambda t, s, n: self._run(index.keyword, t, s, n),
        )

    async def count(self, kb_id: str, version: int | None = None) -> int:
        return await self._run(self._open_index().count, kb_id, version)

    def _open_index(self) -> SqliteIndex:
        if self._index is None:
            raise RuntimeError("the knowledge store is not open")
        return self._index

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))


def _conditions(
    kb_id: str, version: int | None, below_version: int | None, document_id: str | None
) -> tuple[str, list[object]]:
    given: dict[str, object] = {
        "kb_id = ?": kb_id,
        "version = ?": version,
        "version < ?": below_version,
        "document_id = ?": document_id,
    }
    used = [(clause, value) for clause, value in given.items() if value is not None]
    return " AND ".join(clause for clause, _ in used), [value for _, value in used]


def _chunk_row(chunk: IndexedChunk, scope: str) -> tuple[object, ...]:
    return (
        chunk.id,
        chunk.kb_id,
        chunk.version,
        scope,
        chunk.document_id,
        chunk.ordinal,
        chunk.text,
        chunk.source,
        chunk.title,
        chunk.section,
        chunk.page,
        len(chunk.vector),
    )


def _chunk(row: Sequence[Any]) -> IndexedChunk:
    return IndexedChunk(
        id=row[0],
        kb_id=row[1],
        version=row[2],
        document_id=row[3],
        ordinal=row[4],
        text=row[5],
        source=row[6],
        title=row[7],
        section=row[8],
        page=row[9],
    )


def _float32(vector: list[float]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()
