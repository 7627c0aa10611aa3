"""Evals of apps: run an app version's tests several times on the server, keep every answer
and verdict, and compare versions.

A run names an app version: an existing one, or a draft made from a spec sent with the
request (a file, or a file at a git ref), which answers only when named by number, so an
eval never changes the live app. Its cases are the tests of that version, or of another one
(`tests_version`) when two versions are compared on one set. The run is a background job:
samples are kept as they finish, a run cut short by a restart resumes where it stopped, and
a cancelled run stops between samples.

Who may: an app's editors (owner, admins, those granted edit) run evals and read them.
Answers and judge verdicts go through `InferenceService` as the user who started the run,
with their quotas; an app's API calls are answered by the test's fixed responses when it
declares them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from homeport.apps.cases import TestSpec, case_name
from homeport.db.engine import Database
from homeport.db.repositories import UserRepository
from homeport.db.repositories.evals import EvalRepository
from homeport.db.repositories.jobs import Job
from homeport.domain.chat import ChatMessage, ChatRequest, ChatResult, CompletionRequest
from homeport.domain.evals import EvalCase, EvalResult, EvalRun
from homeport.domain.models import ModelInfo
from homeport.domain.users import Principal
from homeport.errors import (
    HomeportError,
    InvalidRequest,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from homeport.evals import stats
from homeport.evals.judge import DEFAULT_PROMPT, PROMPTS, Judge, Verdict
from homeport.evals.runner import NoAnswer, Reply, run_case
from homeport.services.apps import AppService, validate_spec
from homeport.services.inference import InferenceService
from homeport.services.jobs import JobRunner
from homeport.services.users import load_principal
from homeport.tools.fixed import ApiEnvironment
from homeport.tools.strategies import Model

log = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)
T = TypeVar("T")

RUN = "eval.run"
MAX_SAMPLES = 100
MAX_SAMPLES_IN_RUN = 5000  # cases times samples
RATE_LIMIT_RETRIES = 5
MAX_RATE_LIMIT_WAIT = 60.0  # seconds: a longer wait fails the sample


@dataclass(frozen=True, slots=True)
class EvalRequest:
    app: str
    version: int | None = None  # an existing version (default: the current one)
    spec: dict[str, Any] | None = None  # or a draft made from this spec
    label: str | None = None
    git: dict[str, Any] | None = None
    samples: int = 3
    judge_model: str | None = None
    judge_prompt: str = DEFAULT_PROMPT
    tests_version: int | None = None  # run that version's tests instead
    baseline: str | None = None  # a run to compare with
    record: bool = False  # keep the live APIs' responses with the calls


@dataclass(frozen=True, slots=True)
class EvalView:
    """A run as its readers see it: progress, per-case statistics, results, comparison."""

    run: EvalRun
    done: int
    draft: bool = False
    results: Sequence[EvalResult] | None = None  # None: not read (lists of runs)
    comparison: dict[str, Any] | None = None

    def to_dict(self, *, with_results: bool = True) -> dict[str, Any]:
        """The run as the API sends it; `with_results` False leaves out every sample's
        answers (the statistics stay)."""
        run = self.run
        counts = case_counts(run, self.results or [])
        read = self.results is not None
        passed = sum(c.passed for c in counts.values())
        total = sum(c.total for c in counts.values())
        return {
            "id": run.id,
            "app": run.app,
            "version": run.version,
            "tests_version": run.tests_version,
            "draft": self.draft,
            "label": run.label,
            "model": run.models[0] if len(set(run.models)) == 1 else ", ".join(run.models),
            "judge_model": run.judge_model,
            "judge_prompt": run.judge_prompt,
            "samples": run.samples,
            "status": run.status,
            "error": run.error,
            "total": run.total,
            "done": self.done,
            "created_by": run.created_by,
            "created_at": run.created_at.isoformat(),
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "baseline": run.baseline,
            "record": run.record,
            "summary": _rate(passed, total) if read else None,
            "cases": [{"name": n, **_rate(c.passed, c.total)} for n, c in counts.items()]
            if read
            else [],
            "results": [r.to_dict() for r in self.results or []] if with_results else [],
            "comparison": self.comparison,
        }


def case_counts(run: EvalRun, results: Sequence[EvalResult]) -> dict[str, stats.Counts]:
    """Passed and run samples per case, in the run's order of cases."""
    counts = {case.name: [0, 0] for case in run.cases}
    for result in results:
        if result.case in counts:
            counts[result.case][0] += int(result.passed)
            counts[result.case][1] += 1
    return {name: stats.Counts(p, t) for name, (p, t) in counts.items()}


def _rate(passed: int, total: int) -> dict[str, Any]:
    low, high = stats.wilson(passed, total)
    return {
        "passed": passed,
        "total": total,
        "pass_rate": round(passed / total, 4) if total else 0.0,
        "low": round(low, 4),
        "high": round(high, 4),
    }


class EvalService:
    def __init__(
        self,
        db: Database,
        apps: AppService,
        inference: InferenceService,
        jobs: JobRunner,
        *,
        concurrency: int = 1,
    ) -> None:
        self.db = db
        # Samples of one run answered at once (HOMEPORT_EVAL_CONCURRENCY).
        self.concurrency = concurrency
        self.apps = apps
        self.inference = inference
        self.jobs = jobs
        jobs.register(RUN, self._execute)

    # -- starting -----------------------------------------------------------------------------

    async def start(self, principal: Principal, request: EvalRequest) -> EvalView:
        """A queued run of the app version's tests (a draft version made from `spec`)."""
        _check_request(request)
        if request.spec is not None:  # checks the caller may edit the app, or creates it
            version = await self.apps.draft(
                principal, request.app, request.spec, label=request.label, git=request.git
            )
        app = await self.apps.editable(principal, request.app)
        if request.spec is None:
            _, version = await self.apps.version(principal, request.app, request.version)
        tests_from = version
        if request.tests_version is not None:
            _, tests_from = await self.apps.version(principal, request.app, request.tests_version)
        cases = _cases(request.app, tests_from.spec, tests_from.number)
        if len(cases) * request.samples > MAX_SAMPLES_IN_RUN:
            raise InvalidRequest(
                f"{len(cases)} cases x {request.samples} samples is more than "
                f"{MAX_SAMPLES_IN_RUN} answers in one run",
                param="samples",
            )
        judge_model = None
        if any(TestSpec.model_validate(c.test).needs_judge for c in cases):
            judge_model = request.judge_model or self.inference.catalog.default_model_id()
            await self.inference.get_model(principal, judge_model)  # the caller may use it
        if request.baseline is not None:
            await self._readable(principal, request.baseline, app=request.app)
        async with self.db.transaction() as session:
            run = await EvalRepository(session).create(
                app_id=app.id,
                app=app.name,
                version=version.number,
                tests_version=tests_from.number,
                label=request.label or version.label,
                models=version.models,
                judge_model=judge_model,
                judge_prompt=request.judge_prompt if judge_model else None,
                samples=request.samples,
                cases=[c.to_dict() for c in cases],
                total=len(cases) * request.samples,
                baseline=request.baseline,
                record=request.record,
                created_by=principal.user_id,
            )
        await self.jobs.enqueue(RUN, f"eval:{run.id}", {"run": run.id})
        return EvalView(run, 0, draft=version.draft)

    # -- reading ------------------------------------------------------------------------------

    async def get(
        self, principal: Principal, run_id: str, *, baseline: str | None = None
    ) -> EvalView:
        """The run with its results, compared with `baseline` (default: the run's own) once
        both have succeeded."""
        run = await self._readable(principal, run_id)
        against = baseline or run.baseline
        if baseline is not None:
            await self._readable(principal, baseline, app=run.app)
        async with self.db.transaction() as session:
            repo = EvalRepository(session)
            results = await repo.results(run.id)
            base = await repo.get(against) if against else None
            base_results = await repo.results(base.id) if base else []
        comparison: dict[str, Any] | None = None
        if base is not None and run.status == base.status == "succeeded":
            found = stats.compare(case_counts(base, base_results), case_counts(run, results))
            comparison = {
                **found.to_dict(),
                "baseline": base.id,
                "baseline_version": base.version,
            }
        _, version = await self.apps.version(principal, run.app, run.version)
        return EvalView(run, len(results), version.draft, results, comparison)

    async def runs(
        self,
        principal: Principal,
        *,
        app: str | None = None,
        before: datetime | None = None,
        limit: int = 50,
    ) -> list[EvalView]:
        """Runs of the apps the caller may edit (of `app`), newest first, without results."""
        if app is not None:
            app_ids: list[str] | None = [(await self.apps.editable(principal, app)).id]
        elif principal.is_admin:
            app_ids = None
        else:
            app_ids = [a.id for a in await self.apps.editable_apps(principal)]
        async with self.db.transaction() as session:
            repo = EvalRepository(session)
            runs = await repo.recent(app_ids=app_ids, before=before, limit=limit)
            done = await repo.done([r.id for r in runs])
        return [EvalView(r, done.get(r.id, 0)) for r in runs]

    async def cancel(self, principal: Principal, run_id: str) -> EvalView:
        run = await self._readable(principal, run_id)
        async with self.db.transaction() as session:
            await EvalRepository(session).set_status(
                run.id, "cancelled", only_from=("queued", "running")
            )
        return await self.get(principal, run_id)

    async def delete(self, principal: Principal, run_id: str) -> None:
        run = await self._readable(principal, run_id)
        async with self.db.transaction() as session:
            await EvalRepository(session).delete(run.id)

    async def _readable(
        self, principal: Principal, run_id: str, *, app: str | None = None
    ) -> EvalRun:
        async with self.db.transaction() as session:
            run = await EvalRepository(session).get(run_id)
        if run is None or (app is not None and run.app != app):
            raise NotFound(f"no eval run '{run_id}'" + (f" of app '{app}'" if app else ""))
        try:
            await self.apps.editable(principal, run.app)
        except HomeportError:
            raise NotFound(f"no eval run '{run_id}'") from None
        return run

    # -- judging ------------------------------------------------------------------------------

    async def judge(
        self,
        principal: Principal,
        *,
        model: str | None,
        prompt: str,
        question: str,
        answer: str,
        criteria: str,
    ) -> tuple[str, Verdict]:
        """One verdict (the judge's calibration asks for these); the model that gave it."""
        _check_prompt(prompt, param="prompt")
        model = model or self.inference.catalog.default_model_id()
        judge = await self._judge(principal, model, prompt)
        return model, await judge.judge(question=question, answer=answer, criteria=criteria)

    async def _judge(self, principal: Principal, model_id: str, prompt: str) -> Judge:
        info = await self.inference.get_model(principal, model_id)

        async def chat(request: ChatRequest) -> ChatResult:
            try:
                return (await patiently(lambda: self.inference.chat(principal, request)))[1]
            except HomeportError as exc:
                raise NoAnswer(f"the judge model failed: {exc.message}") from None

        async def complete(request: CompletionRequest) -> ChatResult:
            try:
                return (await patiently(lambda: self.inference.complete(principal, request)))[1]
            except HomeportError as exc:
                raise NoAnswer(f"the judge model failed: {exc.message}") from None

        return Judge(Model(model_id, info.kind == "base", chat, complete), prompt)

    # -- running ------------------------------------------------------------------------------

    async def _execute(self, job: Job) -> None:
        """The run's job: every (sample, case) not yet kept, samples interleaved so that
        partial results cover every case."""
        async with self.db.transaction() as session:
            repo = EvalRepository(session)
            run = await repo.get(str(job.payload["run"]))
            if run is None or run.finished:
                return
            await repo.set_status(run.id, "running", only_from=("queued", "running"))
            kept = {(r.case, r.sample) for r in await repo.results(run.id)}
            user = await UserRepository(session).get(run.created_by)
            principal = await load_principal(session, user) if user is not None else None
        if principal is None:
            await self._finish(run.id, "failed", "the user who started the run is gone")
            return
        todo = [
            (sample, case)
            for sample in range(run.samples)
            for case in run.cases
            if (case.name, sample) not in kept
        ]
        error = None
        try:
            judge = (
                await self._judge(principal, run.judge_model, run.judge_prompt or DEFAULT_PROMPT)
                if run.judge_model
                else None
            )
            await self._samples(principal, run, todo, judge)
        except* HomeportError as failed:
            error = _first(failed).message
        except* Exception as failed:  # a defect: the run says so rather than hang as running
            log.error("eval run %s failed", run.id, exc_info=_first(failed))
            error = f"internal error: {type(_first(failed)).__name__}"
        # A cancelled run stays cancelled: only a queued or running one moves.
        await self._finish(run.id, "failed" if error else "succeeded", error)

    async def _samples(
        self,
        principal: Principal,
        run: EvalRun,
        todo: list[tuple[int, EvalCase]],
        judge: Judge | None,
    ) -> None:
        """The samples, `concurrency` at once, each kept as it finishes; none is started
        once the run is cancelled."""
        pending = iter(todo)

        async def worker() -> None:
            for sample, case in pending:  # one iterator: each sample is taken once
                if await self._cancelled(run.id):
                    return
                result = await self._sample(principal, run, case, sample, judge)
                async with self.db.transaction() as session:
                    await EvalRepository(session).add_result(run.id, result)

        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, min(self.concurrency, len(todo)))):
                group.create_task(worker())

    async def _sample(
        self, principal: Principal, run: EvalRun, case: EvalCase, sample: int, judge: Judge | None
    ) -> EvalResult:
        model = f"app/{run.app}@{run.version}/{case.assistant}"

        async def ask(messages: list[ChatMessage], environment: ApiEnvironment) -> Reply:
            request = ChatRequest(model=model, messages=messages, user=principal.user_id)
            took: list[float] = []

            async def attempt() -> tuple[ModelInfo, ChatResult]:
                started = time.perf_counter()
                answered = await self.inference.chat(principal, request, environment=environment)
                took.append((time.perf_counter() - started) * 1000)
                return answered

            try:
                _, result = await patiently(attempt)
            except HomeportError as exc:
                raise NoAnswer(exc.message) from None
            extension = result.extension or {}
            return Reply(
                answer=result.content or "",
                prompt_tokens=result.usage.prompt_tokens if result.usage else 0,
                completion_tokens=result.usage.completion_tokens if result.usage else 0,
                api_calls=extension.get("api_calls") or [],
                citations=extension.get("citations") or [],
                latency_ms=took[-1],
            )

        test = TestSpec.model_validate(case.test)
        passed, steps = await run_case(test, ask, judge, record=run.record)
        return EvalResult(case.name, sample, passed, steps)

    async def _cancelled(self, run_id: str) -> bool:
        async with self.db.transaction() as session:
            return await EvalRepository(session).status(run_id) in (None, "cancelled")

    async def _finish(self, run_id: str, status: str, error: str | None) -> None:
        async with self.db.transaction() as session:
            await EvalRepository(session).set_status(
                run_id, status, error=error, only_from=("queued", "running")
            )


async def patiently(call: Callable[[], Awaitable[T]]) -> T:
    """`call`, made again after a rate limit's wait when the wait is short (a per-minute
    limit), at most RATE_LIMIT_RETRIES times; a long one (a daily quota) fails the sample."""
    for _ in range(RATE_LIMIT_RETRIES):
        try:
            return await call()
        except RateLimited as exc:
            if exc.retry_after is None or exc.retry_after > MAX_RATE_LIMIT_WAIT:
                raise
            log.info("eval sample rate limited: waiting %.0f s", exc.retry_after)
            await asyncio.sleep(exc.retry_after)
    return await call()


def _first(group: BaseExceptionGroup[E]) -> E:
    """The first exception in a (nested) group."""
    found = group.exceptions[0]
    return _first(found) if isinstance(found, BaseExceptionGroup) else found


def _check_request(request: EvalRequest) -> None:
    if request.spec is not None and request.version is not None:
        raise InvalidRequest("give a version or a spec, not both", param="version")
    if not 1 <= request.samples <= MAX_SAMPLES:
        raise InvalidRequest(f"samples must be 1 to {MAX_SAMPLES}", param="samples")
    _check_prompt(request.judge_prompt, param="judge_prompt")


def _check_prompt(version: str, *, param: str) -> None:
    if version not in PROMPTS:
        raise InvalidRequest(
            f"no judge prompt '{version}' (known: {', '.join(PROMPTS)})", param=param
        )


def _cases(app: str, spec: dict[str, Any], number: int) -> list[EvalCase]:
    """The version's tests, named `test` (or `assistant/test` when several assistants have
    tests)."""
    parsed = validate_spec(app, spec)
    with_tests = [(i, a) for i, a in enumerate(parsed.assistants) if a.tests]
    several = len(with_tests) > 1
    cases = [
        EvalCase(
            case_name(a.id or a.name or str(i), t.name, several=several),
            i,
            t.model_dump(by_alias=True, exclude_defaults=True),
        )
        for i, a in with_tests
        for t in a.tests
    ]
    if not cases:
        raise ValidationFailed(
            f"app/{app} v{number} has no tests: add tests[] to an assistant", param="spec"
        )
    return cases
