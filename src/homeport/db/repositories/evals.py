"""Eval runs and their results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import EvalResultRow, EvalRunRow, utcnow
from homeport.domain.evals import EvalCase, EvalResult, EvalRun
from homeport.domain.ids import new_id


def _run(row: EvalRunRow) -> EvalRun:
    return EvalRun(
        id=row.id,
        app_id=row.app_id,
        app=row.app,
        version=row.version,
        tests_version=row.tests_version,
        label=row.label,
        models=list(row.models or []),
        judge_model=row.judge_model,
        judge_prompt=row.judge_prompt,
        samples=row.samples,
        cases=[EvalCase(c["name"], int(c["assistant"]), dict(c["test"])) for c in row.cases],
        status=row.status,  # type: ignore[arg-type]
        error=row.error,
        total=row.total,
        baseline=row.baseline,
        record=row.record,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


def _result(row: EvalResultRow) -> EvalResult:
    return EvalResult(row.case, row.sample, row.passed, list(row.steps))


class EvalRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def create(self, **values: Any) -> EvalRun:
        row = EvalRunRow(id=new_id("evr"), status="queued", **values)
        self.session.add(row)
        await self.session.flush()
        return _run(row)

    async def get(self, run_id: str) -> EvalRun | None:
        row = await self.session.get(EvalRunRow, run_id)
        return _run(row) if row else None

    async def recent(
        self, *, app_ids: list[str] | None, before: datetime | None, limit: int
    ) -> list[EvalRun]:
        """Newest first; `app_ids` None: every app's."""
        query = select(EvalRunRow).order_by(EvalRunRow.created_at.desc()).limit(limit)
        if app_ids is not None:
            query = query.where(EvalRunRow.app_id.in_(app_ids))
        if before is not None:
            query = query.where(EvalRunRow.created_at < before)
        return [_run(r) for r in await self.session.scalars(query)]

    async def set_status(
        self, run_id: str, status: str, *, error: str | None = None, only_from: tuple[str, ...] = ()
    ) -> bool:
        """Move the run to `status` (from one of `only_from`, when given); whether it moved."""
        values: dict[str, Any] = {"status": status, "error": error}
        if status == "running":
            values["started_at"] = utcnow()
        elif status in ("succeeded", "failed", "cancelled"):
            values["finished_at"] = utcnow()
        query = update(EvalRunRow).where(EvalRunRow.id == run_id).values(**values)
        if only_from:
            query = query.where(EvalRunRow.status.in_(only_from))
        moved = await self.session.execute(query)
        return bool(getattr(moved, "rowcount", 0))

    async def status(self, run_id: str) -> str | None:
        return await self.session.scalar(select(EvalRunRow.status).where(EvalRunRow.id == run_id))

    async def add_result(self, run_id: str, result: EvalResult) -> None:
        """Keep a sample's result; one already kept (a resumed run) stays as it was."""
        row = EvalResultRow(
            id=new_id("evs"),
            run_id=run_id,
            case=result.case,
            sample=result.sample,
            passed=result.passed,
            steps=result.steps,
        )
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            pass

    async def results(self, run_id: str) -> list[EvalResult]:
        rows = await self.session.scalars(
            select(EvalResultRow)
            .where(EvalResultRow.run_id == run_id)
            .order_by(EvalResultRow.case, EvalResultRow.sample)
        )
        return [_result(r) for r in rows]

    async def done(self, run_ids: list[str]) -> dict[str, int]:
        """How many samples each run has finished."""
        rows = await self.session.execute(
            select(EvalResultRow.run_id, func.count())
            .where(EvalResultRow.run_id.in_(run_ids))
            .group_by(EvalResultRow.run_id)
        )
        return {run_id: int(count) for run_id, count in rows.all()}

    async def delete(self, run_id: str) -> None:
        await self.session.execute(delete(EvalResultRow).where(EvalResultRow.run_id == run_id))
        await self.session.execute(delete(EvalRunRow).where(EvalRunRow.id == run_id))
