"""Evals (/api/v1/evals): run an app version's tests on the server, follow and read runs,
compare versions, and ask the judge for one verdict (its calibration)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response, status

from homeport.api.deps import ApplyCaller, ServicesDep
from homeport.api.schemas.evals import EvalIn, EvalOut, EvalPage, JudgeIn, VerdictOut
from homeport.services.evals import EvalRequest, EvalView

router = APIRouter(prefix="/api/v1/evals", tags=["evals"])


def _out(view: EvalView, *, with_results: bool = True) -> EvalOut:
    return EvalOut.model_validate(view.to_dict(with_results=with_results))


@router.post("", status_code=status.HTTP_201_CREATED)
async def start(body: EvalIn, services: ServicesDep, caller: ApplyCaller) -> EvalOut:
    """Queue a run. With `spec`, the spec becomes a draft version first (the live app does
    not change); a version with exactly that spec is reused."""
    view = await services.evals.start(caller, EvalRequest(**body.model_dump()))
    return _out(view)


@router.get("")
async def list_runs(
    services: ServicesDep,
    caller: ApplyCaller,
    app: str | None = Query(default=None, description="Only this app's runs"),
    before: datetime | None = None,
    limit: int = Query(default=20, ge=1, le=200),
) -> EvalPage:
    """Runs of the apps you may edit, newest first (summaries without results)."""
    views = await services.evals.runs(caller, app=app, before=before, limit=limit + 1)
    return EvalPage(
        data=[_out(v, with_results=False) for v in views[:limit]], has_more=len(views) > limit
    )


@router.get("/{run_id}")
async def get_run(
    run_id: str,
    services: ServicesDep,
    caller: ApplyCaller,
    baseline: str | None = Query(
        default=None, description="Compare with this run of the same app (default: its own)"
    ),
    results: bool = Query(default=True, description="false: progress and statistics only"),
) -> EvalOut:
    view = await services.evals.get(caller, run_id, baseline=baseline)
    return _out(view, with_results=results)


@router.post("/{run_id}/cancel")
async def cancel(run_id: str, services: ServicesDep, caller: ApplyCaller) -> EvalOut:
    """Stop a queued or running run after the sample in progress (kept results stay)."""
    return _out(await services.evals.cancel(caller, run_id))


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(run_id: str, services: ServicesDep, caller: ApplyCaller) -> Response:
    await services.evals.delete(caller, run_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/judge")
async def judge(body: JudgeIn, services: ServicesDep, caller: ApplyCaller) -> VerdictOut:
    """One verdict on one answer: whether it meets `criteria` (a rubric)."""
    model, verdict = await services.evals.judge(
        caller,
        model=body.model,
        prompt=body.prompt,
        question=body.question,
        answer=body.answer,
        criteria=body.criteria,
    )
    return VerdictOut(
        model=model,
        prompt=body.prompt,
        verdict="pass" if verdict.passed else "fail",
        passed=verdict.passed,
        score=verdict.score,
        reason=verdict.reason,
    )
