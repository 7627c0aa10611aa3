"""Vector stores on real databases: every test runs on sqlite-vec and on pgvector."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from homeport.db.engine import Database
from homeport.domain.knowledge import Hit, IndexedChunk, SearchMode
from homeport.errors import ValidationFailed
from homeport.knowledge.stores import VectorStore, open_store
from homeport.knowledge.stores.base import (
    fts5_query,
    fuse,
    keyword_terms,
    rare_terms,
    websearch_query,
)
from homeport.knowledge.stores.pgvector import PgVectorStore
from homeport.settings import async_database_url
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

DIMS = 16


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[VectorStore]:
    """The store that follows the main database's kind: sqlite-vec, or pgvector."""
    db = Database(async_database_url(database_url))
    opened = await open_store(make_settings(tmp_path), db)
    try:
        yield opened
    finally:
        await opened.close()
        await db.close()


def unit(values: Sequence[float]) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    return [float(x) for x in array / np.linalg.norm(array)]


def axis(i: int, dims: int = DIMS) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(dims)]


def mix(a: int, b: int, weight: float, dims: int = DIMS) -> list[float]:
    """A unit vector whose cosine with axis(a) is `weight`, the rest towards axis(b)."""
    values = np.zeros(dims)
    values[a], values[b] = weight, math.sqrt(1 - weight**2)
    return [float(x) for x in values]


def random_unit(rng: np.random.Generator, dims: int = DIMS) -> list[float]:
    return unit(rng.normal(size=dims).tolist())


def chunk(
    id: str,
    vector: list[float],
    *,
    kb: str = "kb-a",
    version: int = 1,
    text: str = "plain words",
    document: str = "doc-1",
) -> IndexedChunk:
    return IndexedChunk(
        id=id,
        kb_id=kb,
        version=version,
        document_id=document,
        ordinal=int(id.rsplit("-", 1)[-1]) if id[-1].isdigit() else 0,
        text=text,
        source="https://example.com/handbook",
        title="Handbook",
        section="Travel > Trains",
        page=3,
        vector=vector,
    )


def ids(hits: list[Hit]) -> list[str]:
    return [hit.chunk.id for hit in hits]


async def test_a_chunk_comes_back_as_it_went_in_and_goes_when_deleted(
    store: VectorStore,
) -> None:
    first = chunk("c-1", axis(0), text="Trains leave at nine", document="doc-1")
    second = chunk("c-2", axis(1), text="Buses leave at ten", document="doc-2")
    await store.add([first, second])

    hits = await store.search(vector=axis(0), text=None, scopes={"kb-a": 1}, top_k=1)
    assert ids(hits) == ["c-1"]
    assert hits[0].chunk == IndexedChunk(**{**_fields(first), "vector": []})
    assert hits[0].dense_score == pytest.approx(1.0, abs=1e-5)
    assert await store.count("kb-a") == 2

    assert await store.delete("kb-a", document_id="doc-1") == 1
    hits = await store.search(vector=axis(0), text="trains", scopes={"kb-a": 1}, top_k=5)
    assert ids(hits) == ["c-2"]
    assert await store.count("kb-a") == 1


def _fields(item: IndexedChunk) -> dict[str, object]:
    return {name: getattr(item, name) for name in IndexedChunk.__slots__}


async def test_adding_the_same_chunk_again_replaces_it(store: VectorStore) -> None:
    await store.add([chunk("c-1", axis(0), text="the old wording")])
    await store.add([chunk("c-1", axis(1), text="the new wording")] * 2)

    assert await store.count("kb-a") == 1
    scopes = {"kb-a": 1}
    assert await store.search(vector=None, text="old", scopes=scopes, top_k=5, mode="keyword") == []
    hits = await store.search(vector=axis(1), text="new", scopes=scopes, top_k=5)
    assert ids(hits) == ["c-1"]
    assert hits[0].chunk.text == "the new wording"
    assert hits[0].dense_score == pytest.approx(1.0, abs=1e-5)


async def test_dense_keyword_and_hybrid_find_by_meaning_by_words_and_by_both(
    store: VectorStore,
) -> None:
    await store.add(
        [
            chunk("c-1", mix(0, 1, 0.9), text="refund policy for train tickets"),
            chunk("c-2", axis(0), text="opening hours of the office"),
            chunk("c-3", axis(2), text="refund refund of a train ticket bought online"),
            chunk("c-4", axis(3), text="parking spaces"),
        ]
        + [chunk(f"f-{i}", mix(0, 3, 0.5 - i / 10), text="lorem ipsum") for i in range(3)]
    )
    scopes = {"kb-a": 1}
    text = "train refund"

    dense = await store.search(vector=axis(0), text=text, scopes=scopes, top_k=2, mode="dense")
    assert ids(dense) == ["c-2", "c-1"]
    assert all(hit.keyword_score is None and hit.score == hit.dense_score for hit in dense)

    keyword = await store.search(vector=axis(0), text=text, scopes=scopes, top_k=5, mode="keyword")
    assert set(ids(keyword)) == {"c-1", "c-3"}
    assert keyword[0].keyword_score == 1.0
    assert all(hit.dense_score is None for hit in keyword)

    hybrid = await store.search(vector=axis(0), text=text, scopes=scopes, top_k=4)
    assert ids(hybrid)[0] == "c-1"  # second by meaning, found by words too
    assert hybrid[0].dense_score is not None and hybrid[0].keyword_score is not None
    assert [hit.score for hit in hybrid] == sorted((hit.score for hit in hybrid), reverse=True)


async def test_top_k_and_threshold_limit_what_comes_back(store: VectorStore) -> None:
    await store.add(
        [chunk(f"c-{i}", mix(0, 1, 1 - i / 10), text=f"note {i}") for i in range(10)]
        + [chunk("w-1", axis(2), text="apple apple banana"), chunk("w-2", axis(3), text="apple")]
    )
    scopes = {"kb-a": 1}

    top = await store.search(vector=axis(0), text=None, scopes=scopes, top_k=3, mode="dense")
    assert ids(top) == ["c-0", "c-1", "c-2"]

    near = await store.search(
        vector=axis(0), text=None, scopes=scopes, top_k=10, mode="dense", threshold=0.75
    )
    assert ids(near) == ["c-0", "c-1", "c-2"]  # cosines 1.0, 0.9, 0.8; then 0.7

    best = await store.search(
        vector=None, text="apple banana", scopes=scopes, top_k=10, mode="keyword", threshold=0.99
    )
    assert ids(best) == ["w-1"]


async def test_hybrid_threshold_prunes_dense_matches_but_keeps_keyword_matches(
    store: VectorStore,
) -> None:
    await store.add(
        [
            chunk("c-1", axis(0), text="zebra crossing"),
            chunk("c-2", mix(0, 1, 0.3), text="nothing in common"),
            chunk("c-3", axis(1), text="an apple a day"),
        ]
    )
    hits = await store.search(
        vector=axis(0), text="apple", scopes={"kb-a": 1}, top_k=10, threshold=0.5
    )
    assert sorted(ids(hits)) == ["c-1", "c-3"]
    by_id = {hit.chunk.id: hit for hit in hits}
    assert by_id["c-3"].dense_score is None and by_id["c-3"].keyword_score == 1.0


async def test_other_knowledge_bases_and_versions_never_come_back(store: VectorStore) -> None:
    rng = np.random.default_rng(7)
    query = random_unit(rng)
    close = [unit(np.asarray(query) + rng.normal(scale=0.01, size=DIMS)) for _ in range(60)]
    await store.add(
        [chunk(f"other-{i}", v, kb="kb-b", text="secret salary") for i, v in enumerate(close[:30])]
        + [chunk(f"old-{i}", v, version=2, text="secret salary") for i, v in enumerate(close[30:])]
        + [chunk(f"mine-{i}", random_unit(rng), text="salary bands") for i in range(20)]
    )
    scopes = {"kb-a": 1}

    modes: tuple[SearchMode, ...] = ("dense", "hybrid", "keyword")
    for mode in modes:
        hits = await store.search(
            vector=query, text="secret salary", scopes=scopes, top_k=10, mode=mode
        )
        assert len(hits) == 10, mode  # the filter applies during the search, not after it
        assert all(hit.chunk.id.startswith("mine-") for hit in hits), mode

    assert await store.search(vector=query, text="secret", scopes={}, top_k=10) == []
    both = await store.search(vector=query, text=None, scopes={"kb-b": 1}, top_k=5, mode="dense")
    assert all(hit.chunk.kb_id == "kb-b" for hit in both) and len(both) == 5


async def test_several_dimensions_live_side_by_side(store: VectorStore) -> None:
    rng = np.random.default_rng(3)
    small = [chunk(f"s-{i}", random_unit(rng, 384), kb="small") for i in range(5)]
    large = [chunk(f"l-{i}", random_unit(rng, 768), kb="large") for i in range(5)]
    await store.add(small + large)
    scopes = {"small": 1, "large": 1}

    hits = await store.search(vector=large[2].vector, text=None, scopes=scopes, top_k=10)
    assert ids(hits)[0] == "l-2"
    assert {hit.chunk.kb_id for hit in hits} == {"large"}
    hits = await store.search(vector=small[4].vector, text=None, scopes=scopes, top_k=10)
    assert ids(hits)[0] == "s-4" and len(hits) == 5
    unknown = random_unit(rng, 32)
    assert await store.search(vector=unknown, text=None, scopes=scopes, top_k=3) == []


async def test_deleting_below_a_version_keeps_the_live_one(store: VectorStore) -> None:
    await store.add([chunk(f"v1-{i}", axis(i), version=1) for i in range(3)])
    await store.add([chunk(f"v2-{i}", axis(i), version=2) for i in range(4)])
    await store.add([chunk("x-1", axis(0), kb="kb-b", version=1)])
    assert (await store.count("kb-a", 1), await store.count("kb-a", 2)) == (3, 4)

    assert await store.delete("kb-a", below_version=2) == 3
    assert await store.count("kb-a") == 4
    assert await store.count("kb-b") == 1
    assert await store.search(vector=axis(0), text=None, scopes={"kb-a": 1}, top_k=5) == []
    assert await store.delete("kb-a", version=2) == 4
    assert await store.count("kb-a") == 0


UNSAFE = [
    '"unbalanced quote',
    "salary AND",
    "OR NOT NEAR(",
    "sal*",
    "-salary",
    "(salary))",
    "kb_id:secret ^salary",
    "'; DROP TABLE chunks; --",
    "!!!",
    "",
    "è ü 東京 salary",
]


async def test_any_user_text_is_a_valid_keyword_query(store: VectorStore) -> None:
    await store.add([chunk("c-1", axis(0), text="the salary bands for 2025")])
    modes: tuple[SearchMode, ...] = ("keyword", "hybrid")
    for text in UNSAFE:
        for mode in modes:
            hits = await store.search(
                vector=axis(1), text=text, scopes={"kb-a": 1}, top_k=5, mode=mode
            )
            found = [hit.chunk.id for hit in hits if hit.keyword_score is not None]
            assert found == (["c-1"] if "salary" in text else []), (text, mode)
    assert await store.count("kb-a") == 1


async def test_a_filtered_search_finds_the_true_nearest_neighbours(store: VectorStore) -> None:
    rng = np.random.default_rng(42)
    dims, per_kb = 384, 100
    vectors = rng.normal(size=(20 * per_kb, dims)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    kbs = [f"kb-{i % 20}" for i in range(len(vectors))]
    await store.add([chunk(f"r-{i}", v.tolist(), kb=kbs[i]) for i, v in enumerate(vectors)])
    scopes = {"kb-3": 1, "kb-7": 1, "kb-11": 1}
    allowed = np.array([kb in scopes for kb in kbs])

    recalls = []
    for query in rng.normal(size=(20, dims)).astype(np.float32):
        query /= np.linalg.norm(query)
        exact = np.where(allowed, vectors @ query, -np.inf).argsort()[::-1][:10]
        hits = await store.search(
            vector=query.tolist(), text=None, scopes=scopes, top_k=10, mode="dense"
        )
        recalls.append(len({f"r-{i}" for i in exact} & set(ids(hits))) / 10)
    assert np.mean(recalls) >= 0.95


@pytest.mark.postgres
async def test_hnsw_keeps_searching_until_the_scope_filter_is_satisfied(
    postgres_url: str,
) -> None:
    """Forced onto the HNSW graph (no exact path, no sequential scan, no scope index), a
    search in a knowledge base holding 0.5% of the table still finds its 10 nearest: the
    first 1,000 candidates hold about 5 of them, an iterative scan goes on for the rest."""
    connection = await asyncpg.connect(postgres_url)
    name = await connection.fetchval("SELECT current_database()")
    await connection.execute(f'ALTER DATABASE "{name}" SET enable_seqscan = off')
    rng = np.random.default_rng(5)
    store = PgVectorStore(async_database_url(postgres_url), exact_rows=0)
    await store.open()
    try:
        vectors = [random_unit(rng, 32) for _ in range(6000)]
        await store.add([chunk(f"r-{i}", v, kb=f"kb-{i % 200}") for i, v in enumerate(vectors)])
        await connection.execute("DROP INDEX knowledge_chunks_scope; ANALYZE knowledge_chunks")
        mine = range(0, len(vectors), 200)
        exact = sorted(mine, key=lambda i: -float(np.dot(vectors[i], vectors[0])))[:10]
        hits = await store.search(
            vector=vectors[0], text=None, scopes={"kb-0": 1}, top_k=10, mode="dense"
        )
        assert ids(hits)[0] == "r-0" and len(hits) == 10
        assert len(set(ids(hits)) & {f"r-{i}" for i in exact}) >= 9
    finally:
        await store.close()
        await connection.close()


@pytest.mark.postgres
async def test_the_graph_path_serves_every_dimension(postgres_url: str) -> None:
    """HNSW on `vector` up to 2,000 dimensions, on `halfvec` up to 4,000, none beyond."""
    rng = np.random.default_rng(11)
    store = PgVectorStore(async_database_url(postgres_url), exact_rows=0)
    await store.open()
    try:
        for dims in (8, 2500, 4500):
            kb = f"kb-{dims}"
            vectors = [random_unit(rng, dims) for _ in range(5)]
            await store.add([chunk(f"{kb}-{i}", v, kb=kb) for i, v in enumerate(vectors)])
            hits = await store.search(
                vector=vectors[3], text=None, scopes={kb: 1}, top_k=2, mode="dense"
            )
            assert ids(hits)[0] == f"{kb}-3" and len(hits) == 2
    finally:
        await store.close()


async def test_bad_searches_are_client_errors(store: VectorStore) -> None:
    scopes = {"kb-a": 1}
    with pytest.raises(ValidationFailed):
        await store.search(vector=axis(0), text=None, scopes=scopes, top_k=0)
    with pytest.raises(ValidationFailed):
        await store.search(vector=None, text="x", scopes=scopes, top_k=3, mode="dense")
    with pytest.raises(ValidationFailed):
        await store.search(vector=axis(0), text=None, scopes=scopes, top_k=3, mode="keyword")
    with pytest.raises(ValidationFailed):
        await store.add([chunk("c-1", [])])


async def test_a_postgres_store_needs_a_postgres_database(tmp_path: Path) -> None:
    db = Database(async_database_url(f"sqlite:///{tmp_path / 'main.db'}"))
    settings = make_settings(tmp_path, knowledge_store="postgres")
    with pytest.raises(ValidationFailed):
        await open_store(settings, db)
    await db.close()


async def test_the_sqlite_store_lives_in_the_data_dir(tmp_path: Path) -> None:
    db = Database(async_database_url(f"sqlite:///{tmp_path / 'main.db'}"))
    settings = make_settings(tmp_path)
    opened = await open_store(settings, db)
    await opened.add([chunk("c-1", axis(0))])
    await opened.close()
    assert (settings.data_dir / "knowledge.db").exists()
    await db.close()


# -- the shared pure parts -------------------------------------------------------------------


def test_free_text_becomes_quoted_words() -> None:
    terms = keyword_terms('Salary AND "bands" -2025 (NEAR*) salary')
    assert terms == ["salary", "and", "bands", "2025", "near"]
    assert fts5_query(keyword_terms('a "b')) == '"a" OR "b"'
    assert fts5_query(keyword_terms("?!")) is None
    assert websearch_query(["black", "or", "white"]) == "black or or or white"


def test_words_most_chunks_hold_are_left_out_of_keyword_queries() -> None:
    counts = {"the": 90_000, "of": 60_000, "salary": 300, "bands": 4_000}
    assert rare_terms(["the", "salary", "bands", "new"], counts, 100_000) == [
        "salary",
        "bands",
        "new",
    ]
    assert rare_terms(["the", "of"], counts, 100_000) == ["of"]
    assert rare_terms(["the", "of"], counts, 2_000_000) == ["the", "of"]  # under 5%
    assert rare_terms(["the"], {"the": 900}, 1_000) == ["the"]  # a small index keeps all


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    a, b, c = (chunk(f"c-{i}", axis(i)) for i in range(3))
    dense = [Hit(a, 0.9, dense_score=0.9), Hit(b, 0.8, dense_score=0.8)]
    keyword = [Hit(c, 1.0, keyword_score=1.0), Hit(b, 0.5, keyword_score=0.5)]
    fused = fuse(dense, keyword)
    assert ids(fused) == ["c-1", "c-0", "c-2"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 62)
    assert (fused[0].dense_score, fused[0].keyword_score) == (0.8, 0.5)
    assert (fused[2].dense_score, fused[2].keyword_score) == (None, 1.0)
