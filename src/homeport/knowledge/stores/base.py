"""The vector store protocol, the registry of store kinds, and what every store shares.

A store holds chunks of every knowledge base and finds them by meaning (dense search over
L2-normalised embeddings, cosine similarity), by words (full-text search), or both (hybrid:
reciprocal rank fusion of the two lists).

Access control is part of every query. `scopes` maps each knowledge base the caller may
read to the index version that is live; each chunk carries the key `f"{kb_id}@{version}"`
(`scope_key`) and a store filters on it *inside* its nearest-neighbour and full-text
searches, never on their results, so a filter cannot cut a result list short.

Scores:

- `dense_score`: cosine similarity of query and chunk, in [-1, 1].
- `keyword_score`: the store's full-text rank (bm25 or ts_rank_cd) divided by the best rank
  among the keyword candidates of the same query, so the best keyword match scores 1.0.
  Keyword search looks for any of the query's words, leaving out those most chunks hold
  (`rare_terms`).
- `score`: the single method's score in dense or keyword mode; in hybrid mode the reciprocal
  rank fusion `sum(1 / (RRF_K + rank))` over the lists that found the chunk (rank from 1).

`threshold`, when given, applies to `dense_score` in dense mode and to `keyword_score` in
keyword mode. In hybrid mode it prunes the dense candidates before fusion and leaves the
keyword candidates alone: a chunk enters the result through a dense match at or above the
threshold, or through a keyword match, and then has to rank among the `top_k` by fused score.
A chunk whose dense match was pruned keeps `dense_score=None`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from homeport.domain.knowledge import Hit, IndexedChunk, SearchMode
from homeport.errors import ValidationFailed

if TYPE_CHECKING:
    from homeport.db.engine import Database
    from homeport.settings import Settings

RRF_K = 60
"""The constant of reciprocal rank fusion (Cormack et al., 2009): damps the weight of the
first few ranks so that agreement between the lists counts more than one list's top spot."""

MAX_TERMS = 32
COMMON_SHARE = 0.05
COMMON_CHUNKS = 1000
MAX_DIMENSIONS = 16_000


@runtime_checkable
class VectorStore(Protocol):
    """Chunks with their vectors and text, searchable by meaning and by words."""

    async def open(self) -> None:
        """Connect and create what the store needs (tables, indexes); idempotent."""

    async def close(self) -> None:
        """Release connections and threads."""

    async def add(self, chunks: Sequence[IndexedChunk]) -> None:
        """Store chunks; a chunk whose id exists already replaces it."""

    async def delete(
        self,
        kb_id: str,
        *,
        version: int | None = None,
        below_version: int | None = None,
        document_id: str | None = None,
    ) -> int:
        """Delete a knowledge base's chunks matching every given condition; how many went."""

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
        """The best `top_k` chunks among `scopes`, best first (see the module docstring).

        `candidates`: how many each method proposes for fusion in hybrid mode (default
        `default_candidates(top_k)`). Hits carry their chunks without vectors.
        """

    async def count(self, kb_id: str, version: int | None = None) -> int:
        """How many chunks a knowledge base holds (in one version, or in all)."""


# -- the registry ---------------------------------------------------------------------------

StoreFactory = Callable[["Settings", "Database"], VectorStore]

_KINDS: dict[str, StoreFactory] = {}


def register_store(kind: str, factory: StoreFactory) -> None:
    _KINDS[kind] = factory


def store_kinds() -> list[str]:
    _register_builtins()
    return sorted(_KINDS)


async def open_store(settings: Settings, db: Database) -> VectorStore:
    """The store `settings.knowledge_store` names (default: the main database's kind), open."""
    _register_builtins()
    kind = settings.knowledge_store or ("postgres" if db.dialect == "postgresql" else "sqlite")
    try:
        factory = _KINDS[kind]
    except KeyError:
        raise ValidationFailed(
            f"unknown knowledge store '{kind}'; known stores: {', '.join(sorted(_KINDS))}",
            param="knowledge_store",
        ) from None
    store = factory(settings, db)
    await store.open()
    return store


def _sqlite(settings: Settings, _db: Database) -> VectorStore:
    from homeport.knowledge.stores.sqlite_vec import SqliteVecStore

    return SqliteVecStore(settings.ensure_data_dir() / "knowledge.db")


def _postgres(_settings: Settings, db: Database) -> VectorStore:
    from homeport.knowledge.stores.pgvector import PgVectorStore

    if db.dialect != "postgresql":
        raise ValidationFailed(
            "the postgres knowledge store needs a PostgreSQL database_url",
            param="knowledge_store",
        )
    return PgVectorStore(db.url)


def _register_builtins() -> None:
    _KINDS.setdefault("sqlite", _sqlite)
    _KINDS.setdefault("postgres", _postgres)


# -- shared pieces --------------------------------------------------------------------------


def scope_key(kb_id: str, version: int) -> str:
    return f"{kb_id}@{version}"


def scope_keys(scopes: Mapping[str, int]) -> list[str]:
    return sorted(scope_key(kb_id, version) for kb_id, version in scopes.items())


def dimensions_of(vector: Sequence[float]) -> int:
    """The vector's length, refused when a store could not hold it."""
    if not 0 < len(vector) <= MAX_DIMENSIONS:
        raise ValidationFailed(
            f"a vector must have 1 to {MAX_DIMENSIONS} dimensions, not {len(vector)}",
            param="vector",
        )
    return len(vector)


def default_candidates(top_k: int) -> int:
    """How many chunks each method proposes to hybrid fusion unless told."""
    return max(4 * top_k, 40)


def keyword_terms(text: str) -> list[str]:
    """The words of free text, lowercased and deduplicated, at most `MAX_TERMS`.

    Everything that is not a letter, digit or underscore separates words, so quotes,
    operators (`AND`, `*`, `-`, `:`, parentheses) reach no query language as syntax.
    """
    words = re.findall(r"\w+", text.lower())
    return list(dict.fromkeys(words))[:MAX_TERMS]


def rare_terms(terms: Sequence[str], chunks_with: Mapping[str, float], total: float) -> list[str]:
    """The terms worth a full-text query: those in at most 5% of all `total` chunks (or in
    at most 1,000), or, when every term is that common, the rarest one.

    `chunks_with` estimates how many chunks hold a term (missing: rare). A word in a large
    share of the index tells little about any chunk, as a stopword, and would make the
    query rank most of the index; PostgreSQL's ts_rank_cd does not weigh words by rarity,
    so leaving common ones out improves its ranking too.
    """
    limit = max(COMMON_SHARE * total, COMMON_CHUNKS)
    rare = [term for term in terms if chunks_with.get(term, 0) <= limit]
    if rare or not terms:
        return rare
    return [min(terms, key=lambda term: chunks_with.get(term, 0))]


def fts5_query(terms: Sequence[str]) -> str | None:
    """A SQLite FTS5 MATCH expression for any of the words (see `keyword_terms`), each
    quoted, so `AND`, `NEAR` and the like are plain words. None when there are none."""
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def websearch_query(terms: Sequence[str]) -> str | None:
    """Input for PostgreSQL's `websearch_to_tsquery`: any of the words (see `keyword_terms`).
    None when there are none."""
    return " or ".join(terms) if terms else None


# -- searching: one flow for every store ---------------------------------------------------

Ranked = list[tuple[IndexedChunk, float]]
"""Chunks, best first, with the method's raw score (cosine similarity, or full-text rank)."""

DenseSearch = Callable[[list[float], list[str], int], Awaitable[Ranked]]
KeywordSearch = Callable[[str, list[str], int], Awaitable[Ranked]]


@dataclass(frozen=True, slots=True)
class Query:
    """A validated search request."""

    vector: list[float] | None
    text: str | None
    scopes: list[str]
    top_k: int
    mode: SearchMode
    threshold: float | None
    candidates: int


def make_query(
    *,
    vector: list[float] | None,
    text: str | None,
    scopes: Mapping[str, int],
    top_k: int,
    mode: SearchMode,
    threshold: float | None,
    candidates: int | None,
) -> Query:
    """Check a search request: a client mistake here is a ValidationFailed."""
    if top_k < 1:
        raise ValidationFailed("top_k must be at least 1", param="top_k")
    if candidates is not None and candidates < 1:
        raise ValidationFailed("candidates must be at least 1", param="candidates")
    if mode == "dense" and vector is None:
        raise ValidationFailed("dense search needs a vector", param="vector")
    if mode == "keyword" and text is None:
        raise ValidationFailed("keyword search needs text", param="text")
    if vector is None and text is None:
        raise ValidationFailed("a search needs a vector or text", param="text")
    if vector is not None:
        dimensions_of(vector)
    return Query(
        vector=vector,
        text=text,
        scopes=scope_keys(scopes),
        top_k=top_k,
        mode=mode,
        threshold=threshold,
        candidates=max(candidates or default_candidates(top_k), top_k),
    )


async def run_search(query: Query, dense: DenseSearch, keyword: KeywordSearch) -> list[Hit]:
    """Run a query with a store's two methods, then threshold, fuse and cut to `top_k`."""
    if not query.scopes:
        return []
    if query.mode == "dense":
        return await _dense_hits(query, dense, query.top_k)
    if query.mode == "keyword":
        return await _keyword_hits(query, keyword, query.top_k, query.threshold)
    dense_hits, keyword_hits = await asyncio.gather(
        _dense_hits(query, dense, query.candidates),
        _keyword_hits(query, keyword, query.candidates, None),
    )
    return fuse(dense_hits, keyword_hits)[: query.top_k]


async def _dense_hits(query: Query, dense: DenseSearch, limit: int) -> list[Hit]:
    if query.vector is None:
        return []
    ranked = await dense(query.vector, query.scopes, limit)
    return dense_hits(ranked, query.threshold)


async def _keyword_hits(
    query: Query, keyword: KeywordSearch, limit: int, threshold: float | None
) -> list[Hit]:
    if query.text is None or not keyword_terms(query.text):
        return []
    ranked = await keyword(query.text, query.scopes, limit)
    return keyword_hits(ranked, threshold)


def dense_hits(ranked: Ranked, threshold: float | None) -> list[Hit]:
    """Hits from a dense list, those under the threshold left out."""
    return [
        Hit(chunk=chunk, score=similarity, dense_score=similarity)
        for chunk, similarity in ranked
        if threshold is None or similarity >= threshold
    ]


def keyword_hits(ranked: Ranked, threshold: float | None) -> list[Hit]:
    """Hits from a keyword list, ranks normalised by the best one, those under the threshold
    left out."""
    best = max((rank for _, rank in ranked), default=0.0)
    hits = []
    for chunk, rank in ranked:
        score = rank / best if best > 0 else 0.0
        if threshold is None or score >= threshold:
            hits.append(Hit(chunk=chunk, score=score, keyword_score=score))
    return hits


def fuse(dense: Sequence[Hit], keyword: Sequence[Hit], *, k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion of two ranked lists, best first; each hit keeps the scores of
    the methods that found it. Ties go to the higher cosine, then to the chunk id."""
    fused: dict[str, Hit] = {}
    for rank, hit in enumerate(dense, start=1):
        fused[hit.chunk.id] = Hit(chunk=hit.chunk, score=1 / (k + rank), dense_score=hit.score)
    for rank, hit in enumerate(keyword, start=1):
        known = fused.get(hit.chunk.id)
        if known is None:
            fused[hit.chunk.id] = Hit(hit.chunk, score=1 / (k + rank), keyword_score=hit.score)
        else:
            fused[hit.chunk.id] = replace(
                known, score=known.score + 1 / (k + rank), keyword_score=hit.score
            )
    return sorted(fused.values(), key=_fused_order)


def _fused_order(hit: Hit) -> tuple[float, float, str]:
    dense = hit.dense_score if hit.dense_score is not None else -2.0
    return (-hit.score, -dense, hit.chunk.id)
