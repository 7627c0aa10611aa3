"""Background jobs: enqueued by key, claimed with a lease, finished or retried."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import JobRow, utcnow
from homeport.domain.ids import new_id


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int


def _job(row: JobRow) -> Job:
    return Job(row.id, row.kind, row.key, dict(row.payload or {}), row.attempts)


def _claimable(now: datetime) -> Any:
    return or_(
        and_(JobRow.state == "queued", JobRow.run_after <= now),
        and_(JobRow.state == "running", JobRow.lease_until < now),
    )


class JobRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        """Queue a job; a job of the same key that is not running is queued again."""
        row = await self.session.scalar(select(JobRow).where(JobRow.key == key))
        if row is None:
            self.session.add(JobRow(id=new_id("job"), kind=kind, key=key, payload=payload))
        elif row.state != "running":
            row.state, row.payload, row.attempts, row.error = "queued", payload, 0, None
            row.run_after = utcnow()
        await self.session.flush()

    async def claim(self, kinds: list[str], *, lease: timedelta) -> Job | None:
        """Take the oldest job that is due (or whose worker's lease ran out), if any."""
        now = utcnow()
        candidate = await self.session.scalar(
            select(JobRow.id)
            .where(JobRow.kind.in_(kinds), _claimable(now))
            .order_by(JobRow.created_at)
            .limit(1)
        )
        if candidate is None:
            return None
        claimed = await self.session.execute(
            update(JobRow)
            .where(JobRow.id == candidate, _claimable(now))
            .values(
                state="running",
                attempts=JobRow.attempts + 1,
                lease_until=now + lease,
                updated_at=now,
            )
        )
        if not getattr(claimed, "rowcount", 0):
            return None  # another worker took it first
        row = await self.session.get(JobRow, candidate)
        assert row is not None
        await self.session.refresh(row)
        return _job(row)

    async def extend(self, job_id: str, *, lease: timedelta) -> None:
        await self.session.execute(
            update(JobRow).where(JobRow.id == job_id).values(lease_until=utcnow() + lease)
        )

    async def finish(self, job_id: str) -> None:
        await self.session.execute(delete(JobRow).where(JobRow.id == job_id))

    async def release(self, job_id: str) -> None:
        """Give a job back unfinished (its worker is stopping): it runs again soon."""
        await self.session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state == "running")
            .values(state="queued", attempts=JobRow.attempts - 1, lease_until=None)
        )

    async def fail(self, job_id: str, error: str, *, retry_in: timedelta | None) -> None:
        values: dict[str, Any] = {"error": error[:2000], "lease_until": None}
        if retry_in is None:
            values["state"] = "failed"
        else:
            values |= {"state": "queued", "run_after": utcnow() + retry_in}
        await self.session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))

    async def pending(self, key_prefix: str) -> int:
        """Jobs not finished (queued, running or failed) whose key starts with the prefix."""
        rows = await self.session.scalars(
            select(JobRow.id).where(JobRow.key.startswith(key_prefix), JobRow.state != "failed")
        )
        return len(list(rows))
