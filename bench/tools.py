"""API tools: does the assistant pick the right operation, with the right arguments?

Labelled requests over two APIs (`bench/data/tools_hr.json`, `bench/data/tools_github.json`):
each names the operation it needs (or none) and the arguments it states. Both sets were
written before anything was measured and are never changed to improve a score.

- hr: the example HR API (`examples/apps/hr-openapi.json`, 4 operations);
- github: GitHub's REST description from the npm package `@octokit/openapi` (the version
  pinned in the data file; 1223 operations), fetched with `npm pack` into `--cache-dir`
  (default: the user cache directory, as `bench/retrieval_quality.py`) on the first run.

Strategies (`homeport.tools.strategies`), each asked for every request of a suite:

- ranking: no model. BM25's first operation (`Toolbox.rank`) as the classifier, the lexical
  relevance gate (`Toolbox.relevant`) as the "none" decider; no arguments.
- pipeline: `classify` then `extract`, exactly as an app's request runs them, with a `Model`
  over Homeport's inference router (the embedded `local/gemma-3-270m` goes through the
  co-located runner, llama.cpp and its JSON-schema grammar). No call is made.
- function_calling: the first turn of the loop: the `OFFERED_TOOLS` best-ranked operations
  as OpenAI tools, and the model's first tool call (or none). Needs a chat model with tool
  support: give `--base-url/--model/--api-key` for an OpenAI-compatible endpoint (pipeline
  runs on that model too); without them it is skipped.

Scores, over a suite's requests:

- selection: the labelled operation chosen, or "none" for a request that needs none;
- no-tool: of the requests that need none, the share answered "none";
- arguments exact: of the requests that need a call, the share with the right operation
  and exactly the labelled arguments (values compared as trimmed, case-folded text, so
  42 and "42" match; an argument the request does not state must be absent);
- arguments partial: per request, matching (name, value) pairs over the union of labelled
  and given names (1 when both are empty; 0 with the wrong operation), averaged;
- latency: per request, p50 and p95 (classify + extract for the pipeline);
- candidate recall (ranking): the labelled operation among BM25's first 8 (what the
  pipeline's classifier is offered) and first 16 (what function calling is offered).

    python bench/tools.py [--suite hr|github|all] [--limit N] [--json results.json]
        [--cache-dir DIR] [--no-embedded]
        [--base-url URL --model NAME [--api-key KEY]]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from homeport.domain.chat import ChatMessage, ChatRequest, CompletionRequest, SamplingParams
from homeport.errors import ServiceUnavailable
from homeport.outbound import OutboundClient
from homeport.services.container import Services, build_services
from homeport.settings import Settings
from homeport.tools.executor import ApiBinding, ApiExecutor
from homeport.tools.openapi import read_api
from homeport.tools.prompts import Prompts
from homeport.tools.strategies import (
    OFFERED_TOOLS,
    PIPELINE_CANDIDATES,
    Model,
    PipelineOptions,
    classify,
    extract,
)
from homeport.tools.toolbox import Credential, Tool, Toolbox

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
HR_CASES = DATA / "tools_hr.json"
GITHUB_CASES = DATA / "tools_github.json"
DEFAULT_CACHE = Path(platformdirs.user_cache_dir("homeport-bench"))  # outside the repository
EMBEDDED_MODEL = "local/gemma-3-270m"
API_KEY = "hp-bench-tools-0123456789abcdefghijklmnopqrstuvwxyz"
READY_TIMEOUT_S = 120.0
RECALL_AT = (PIPELINE_CANDIDATES, OFFERED_TOOLS)


# -- the labelled requests and the APIs ------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    request: str
    operation: str | None
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Suite:
    name: str
    cases: list[Case]
    binding: ApiBinding


def load_cases(path: Path, limit: int | None) -> tuple[dict[str, Any], list[Case]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [
        Case(**{k: r[k] for k in ("id", "request", "operation", "arguments")})
        for r in data["requests"]
    ]
    return data, cases[:limit] if limit else cases


def github_spec(data: Mapping[str, Any], cache_dir: Path) -> Path:
    """GitHub's OpenAPI description, from the pinned npm package (fetched once)."""
    target = cache_dir / f"octokit-openapi-{data['version']}" / "api.github.com.json"
    if target.exists():
        return target
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to fetch GitHub's OpenAPI description (or fill the cache)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        package = f"{data['package']}@{data['version']}"
        print(f"fetching {package} with npm pack ...", file=sys.stderr)
        done = subprocess.run(
            ["npm", "pack", package, "--silent"], cwd=scratch, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"npm pack {package} failed: {done.stderr.strip()}")
        tarball = Path(scratch) / done.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as archive:
            member = archive.extractfile(data["file"])
            if member is None:
                raise SystemExit(f"{data['file']} is not in {tarball.name}")
            target.write_bytes(member.read())
    return target


def binding_of(name: str, spec: Path, *, headers: Mapping[str, str]) -> ApiBinding:
    document = json.loads(spec.read_text(encoding="utf-8"))
    api = read_api(document)
    description = str((document.get("info") or {}).get("description") or api.title)
    return ApiBinding(name, description, api.servers[0], api.operations, headers=dict(headers))


def load_suites(names: Sequence[str], *, limit: int | None, cache_dir: Path) -> list[Suite]:
    suites = []
    if "hr" in names:
        _, cases = load_cases(HR_CASES, limit)
        spec = ROOT / "examples" / "apps" / "hr-openapi.json"
        binding = binding_of("jobs", spec, headers={"Authorization": "Bearer bench"})
        suites.append(Suite("hr", cases, binding))
    if "github" in names:
        data, cases = load_cases(GITHUB_CASES, limit)
        spec = github_spec(data, cache_dir)
        binding = binding_of("github", spec, headers={"Authorization": "Bearer bench"})
        suites.append(Suite("github", cases, binding))
    for suite in suites:
        check_labels(suite)
    return suites


def check_labels(suite: Suite) -> None:
    """Every labelled operation and argument exists in the API as the assistant sees it."""
    operations = {op.name: op for op in suite.binding.operations}
    for case in suite.cases:
        if case.operation is None:
            continue
        if case.operation not in operations:
            raise SystemExit(f"{case.id}: no operation {case.operation!r} in {suite.name}")
        schema = suite.binding.arguments_schema(operations[case.operation])
        unknown = set(case.arguments) - set(schema.get("properties", {}))
        if unknown:
            raise SystemExit(f"{case.id}: {case.operation} has no arguments {sorted(unknown)}")


def toolbox_for(binding: ApiBinding, executor: ApiExecutor) -> Toolbox:
    async def no_credential(_: ApiBinding) -> Credential:
        return {}

    return Toolbox.of([(binding, Prompts())], executor, no_credential)


# -- the strategies --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a strategy chose for one request, and how long it took."""

    case: str
    operation: str | None
    arguments: dict[str, Any]
    seconds: float


Strategy = Callable[[Toolbox, str], Awaitable[tuple[str | None, dict[str, Any]]]]


async def ranking_only(toolbox: Toolbox, question: str) -> tuple[str | None, dict[str, Any]]:
    first = toolbox.rank(question, limit=1)[0]
    return (first.name if toolbox.relevant(first, question) else None), {}


def pipeline_of(model: Model) -> Strategy:
    async def run(toolbox: Toolbox, question: str) -> tuple[str | None, dict[str, Any]]:
        request = ChatRequest(model.id, [ChatMessage("user", question)])
        tool = await classify(request, toolbox, model, PipelineOptions())
        if tool is None:
            return None, {}
        return tool.name, await extract(tool, model, question)

    return run


def function_calling_of(model: Model) -> Strategy:
    async def run(toolbox: Toolbox, question: str) -> tuple[str | None, dict[str, Any]]:
        offered = toolbox.rank(question, limit=OFFERED_TOOLS)
        system = "You are a helpful assistant. Call a tool only when the request needs one."
        messages = [ChatMessage("system", system), ChatMessage("user", question)]
        params = SamplingParams(max_tokens=256, temperature=0.0)
        tools = [t.definition() for t in offered]
        result = await model.chat(ChatRequest(model.id, messages, params, tools=tools))
        return first_call(result.tool_calls or [])

    return run


def first_call(calls: Sequence[Mapping[str, Any]]) -> tuple[str | None, dict[str, Any]]:
    if not calls:
        return None, {}
    function = calls[0].get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError:
        arguments = {}
    return str(function.get("name")), arguments if isinstance(arguments, dict) else {}


async def answer_all(suite: Suite, toolbox: Toolbox, strategy: Strategy) -> list[Answer]:
    answers = []
    for case in suite.cases:
        started = time.perf_counter()
        operation, arguments = await strategy(toolbox, case.request)
        elapsed = time.perf_counter() - started
        answers.append(Answer(case.id, operation, arguments, elapsed))
        print(
            f"  {case.id}: {operation} {json.dumps(arguments)} ({elapsed:.2f} s)", file=sys.stderr
        )
    return answers


# -- scores ----------------------------------------------------------------------------------


@dataclass
class Scores:
    suite: str
    strategy: str
    model: str
    requests: int
    selection: float
    selection_tool: float
    no_tool: float | None
    arguments_exact: float | None
    arguments_partial: float | None
    p50_s: float
    p95_s: float
    answers: list[dict[str, Any]] = field(default_factory=list)


def same(value: Any, expected: Any) -> bool:
    def text(v: Any) -> str:
        return json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else str(v)

    return text(value).strip().casefold() == text(expected).strip().casefold()


def partial(given: Mapping[str, Any], expected: Mapping[str, Any]) -> float:
    names = set(given) | set(expected)
    if not names:
        return 1.0
    right = sum(1 for n in names if n in given and n in expected and same(given[n], expected[n]))
    return right / len(names)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def score(
    suite: Suite, strategy: str, model: str, answers: Sequence[Answer], *, with_args: bool
) -> Scores:
    pairs = list(zip(suite.cases, answers, strict=True))
    tool = [(c, a) for c, a in pairs if c.operation is not None]
    none = [(c, a) for c, a in pairs if c.operation is None]
    right = [(c, a) for c, a in tool if a.operation == c.operation]
    exact = sum(1 for c, a in right if partial(a.arguments, c.arguments) == 1.0)
    seconds = [a.seconds for a in answers]
    return Scores(
        suite=suite.name,
        strategy=strategy,
        model=model,
        requests=len(pairs),
        selection=(len(right) + sum(1 for _, a in none if a.operation is None)) / len(pairs),
        selection_tool=len(right) / len(tool) if tool else 0.0,
        no_tool=sum(1 for _, a in none if a.operation is None) / len(none) if none else None,
        arguments_exact=exact / len(tool) if tool and with_args else None,
        arguments_partial=(
            sum(partial(a.arguments, c.arguments) for c, a in right) / len(tool)
            if tool and with_args
            else None
        ),
        p50_s=statistics.median(seconds),
        p95_s=percentile(seconds, 0.95),
        answers=[asdict(a) for a in answers],
    )


def candidate_recall(suite: Suite, toolbox: Toolbox) -> dict[str, float]:
    tool = [c for c in suite.cases if c.operation is not None]
    recall = {}
    for k in RECALL_AT:
        found = sum(1 for c in tool if c.operation in names(toolbox.rank(c.request, limit=k)))
        recall[f"top{k}"] = found / len(tool) if tool else 0.0
    return recall


def names(tools: Sequence[Tool]) -> set[str]:
    return {t.name for t in tools}


# -- models through Homeport -----------------------------------------------------------------


def bench_settings(data_dir: Path, args: argparse.Namespace, *, embedded: bool) -> Settings:
    return Settings(
        data_dir=data_dir,
        embedded_model=embedded,
        embedder=False,
        demo_apps=False,
        ollama_autodetect=False,
        bootstrap_api_key=API_KEY,
        access_log=False,
        model_refresh_seconds=3600,
        openai_base_url=args.base_url if not embedded else None,
        openai_api_key=args.api_key if not embedded else None,
    )


async def model_of(services: Services, name: str) -> Model:
    """A `Model` over the inference router, as `InferenceService` builds one for an app."""
    router = services.inference.router
    _, info = await router.catalog.resolve(name)

    async def chat(request: ChatRequest) -> Any:
        return (await router.chat(request))[1]

    async def complete(request: CompletionRequest) -> Any:
        return (await router.complete(request))[1]

    return Model(info.id, base=info.kind == "base", chat=chat, complete=complete)


async def run_model(
    suites: Sequence[Suite], toolboxes: Mapping[str, Toolbox], model: Model
) -> list[Scores]:
    strategies = {"pipeline": pipeline_of(model)}
    if not model.base:
        strategies["function_calling"] = function_calling_of(model)
    results = []
    for suite in suites:
        toolbox = toolboxes[suite.name]
        for name, strategy in strategies.items():
            await strategy(toolbox, suite.cases[0].request)  # warm-up: load, first prompt
            print(f"{suite.name} / {name} / {model.id}", file=sys.stderr)
            answers = await answer_all(suite, toolbox, strategy)
            results.append(score(suite, name, model.id, answers, with_args=True))
    return results


async def with_services(
    settings: Settings, name: str, work: Callable[[Model], Awaitable[list[Scores]]]
) -> list[Scores]:
    async with build_services(settings) as services:
        model = await model_of(services, name)
        await until_served(model)
        return await work(model)


async def until_served(model: Model) -> None:
    """Wait for the model's runner to connect (the co-located one starts with the services)."""
    params = SamplingParams(max_tokens=1, temperature=0.0)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        try:
            await model.complete(CompletionRequest(model.id, "Hello", params))
            return
        except ServiceUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def measure(args: argparse.Namespace, suites: Sequence[Suite]) -> dict[str, Any]:
    results: list[Scores] = []
    recall: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    async with OutboundClient() as outbound:
        executor = ApiExecutor(outbound)
        toolboxes = {s.name: toolbox_for(s.binding, executor) for s in suites}
        for suite in suites:
            toolbox = toolboxes[suite.name]
            answers = await answer_all(suite, toolbox, ranking_only)
            results.append(score(suite, "ranking", "-", answers, with_args=False))
            recall[suite.name] = candidate_recall(suite, toolbox)

        async def work(model: Model) -> list[Scores]:
            return await run_model(suites, toolboxes, model)

        with tempfile.TemporaryDirectory(prefix="hp-bench-tools-") as scratch:
            if args.embedded:
                settings = bench_settings(Path(scratch) / "local", args, embedded=True)
                results += await with_services(settings, EMBEDDED_MODEL, work)
                skipped.append(f"function_calling x {EMBEDDED_MODEL}: a base model, no tools")
            if args.base_url:
                settings = bench_settings(Path(scratch) / "remote", args, embedded=False)
                results += await with_services(settings, args.model, work)
            else:
                skipped.append(
                    "function_calling and pipeline on a chat model: no --base-url/--model "
                    "given (no chat model with tool support is available offline)"
                )
    return {"results": results, "candidate_recall": recall, "skipped": skipped}


# -- the report ------------------------------------------------------------------------------


def fraction(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(measured: Mapping[str, Any]) -> None:
    results: list[Scores] = measured["results"]
    print(
        f"{'suite':<7} {'strategy':<17} {'model':<22} {'n':>3} {'select':>6} {'tool':>5} "
        f"{'none':>5} {'args=':>5} {'args~':>5} {'p50 s':>6} {'p95 s':>6}"
    )
    for s in results:
        print(
            f"{s.suite:<7} {s.strategy:<17} {s.model:<22} {s.requests:>3} "
            f"{s.selection:>6.2f} {s.selection_tool:>5.2f} {fraction(s.no_tool):>5} "
            f"{fraction(s.arguments_exact):>5} {fraction(s.arguments_partial):>5} "
            f"{s.p50_s:>6.2f} {s.p95_s:>6.2f}"
        )
    for suite, recall in measured["candidate_recall"].items():
        shown = ", ".join(f"{k} {v:.2f}" for k, v in recall.items())
        print(f"{suite}: BM25 candidate recall (labelled operation among the first k): {shown}")
    for line in comparisons(results):
        print(line)
    for line in measured["skipped"]:
        print(f"skipped: {line}")


def comparisons(results: Sequence[Scores]) -> list[str]:
    """Each model strategy's selection accuracy against BM25 top-1 as the classifier."""
    baseline = {s.suite: s for s in results if s.strategy == "ranking"}
    lines = []
    for s in results:
        base = baseline.get(s.suite)
        if s.strategy == "ranking" or base is None:
            continue
        ratio = f"x{s.selection / base.selection:.2f}" if base.selection else "n/a"
        lines.append(
            f"{s.suite}: {s.strategy} ({s.model}) selection {s.selection:.2f} vs BM25 top-1 "
            f"as the classifier {base.selection:.2f}: {s.selection - base.selection:+.2f} "
            f"({ratio})"
        )
    return lines


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=("hr", "github", "all"), default="all")
    parser.add_argument("--limit", type=int, default=None, help="the first N requests of each")
    parser.add_argument("--json", type=Path, default=None, help="write every answer here")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument(
        "--no-embedded", dest="embedded", action="store_false", help="skip local/gemma-3-270m"
    )
    parser.add_argument("--base-url", default=None, help="an OpenAI-compatible endpoint")
    parser.add_argument("--model", default=None, help="the model's name there")
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    if args.base_url and not args.model:
        parser.error("--base-url needs --model")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = ("hr", "github") if args.suite == "all" else (args.suite,)
    suites = load_suites(names, limit=args.limit, cache_dir=args.cache_dir)
    measured = asyncio.run(measure(args, suites))
    report(measured)
    if args.json:
        serialisable = {**measured, "results": [asdict(s) for s in measured["results"]]}
        args.json.write_text(json.dumps(serialisable, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
