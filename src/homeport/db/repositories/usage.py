"""Usage records (written in batches, summed, grouped) and quotas."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import QuotaRow, UsageRow, utcnow
from homeport.domain.ids import new_id
from homeport.domain.usage import Group, Quota, SubjectType, UsageFilter, UsageRecord, UsageSummary

_USAGE = UsageRow.metadata.tables[UsageRow.__tablename__]
_SUBJECT_COLUMNS = {"user": UsageRow.user_id, "key": UsageRow.key_id, "app": UsageRow.app}
_GROUP_COLUMNS = {
    "user": "user_id",
    "key": "key_id",
    "app": "app",
    "model": "model",
    "provider": "provider",
    "operation": "operation",
}


class UsageRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add_many(self, records: Sequence[UsageRecord]) -> None:
        """Insert a batch in one statement (executemany, Core: cheaper than the ORM's)."""
        rows = [
            {
                "id": new_id("usage"),
                "user_id": r.user_id,
                "key_id": r.key_id,
                "app": r.app,
                "provider": r.provider,
                "model": r.model,
                "operation": r.operation,
                "outcome": r.outcome,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "latency_ms": r.latency_ms,
                "created_at": r.created_at,
            }
            for r in records
        ]
        await self.session.execute(insert(_USAGE), rows)

    async def tokens_since(
        self, subject_type: SubjectType, subject_id: str, since: datetime
    ) -> int:
        """Prompt and completion tokens of a user's, key's or app's requests since `since`."""
        column = _SUBJECT_COLUMNS[subject_type]
        total = await self.session.scalar(
            select(
                func.coalesce(func.sum(UsageRow.prompt_tokens + UsageRow.completion_tokens), 0)
            ).where(column == subject_id, UsageRow.created_at >= since)
        )
        return int(total or 0)

    async def report(
        self, where: UsageFilter, group_by: Sequence[Group], *, limit: int
    ) -> tuple[list[UsageSummary], bool]:
        """One row per group, in group order; p95 latency by nearest rank, all in SQL."""
        keys = [self._group_expression(g).label(g) for g in group_by]
        ranked = _ranked(keys, _conditions(where))
        outer_keys = [ranked.c[g] for g in group_by]
        latency = ranked.c.latency_ms
        in_p95 = and_(latency.is_not(None), ranked.c.rank * 100 >= ranked.c.timed * 95)
        query = (
            select(
                *outer_keys,
                func.count().label("requests"),
                func.coalesce(func.sum(ranked.c.prompt_tokens), 0).label("prompt_tokens"),
                func.coalesce(func.sum(ranked.c.completion_tokens), 0).label("completion_tokens"),
                func.sum(case((ranked.c.outcome == "error", 1), else_=0)).label("errors"),
                func.sum(case((ranked.c.outcome == "cancelled", 1), else_=0)).label("cancelled"),
                func.avg(latency).label("avg_latency"),
                func.min(case((in_p95, latency))).label("p95_latency"),
            )
            .group_by(*outer_keys)
            .order_by(*outer_keys)
            .limit(limit + 1)
        )
        rows = (await self.session.execute(query)).all()
        summaries = [_summary(row, group_by) for row in rows[:limit]]
        return [s for s in summaries if s.requests], len(rows) > limit

    def _group_expression(self, group: Group) -> ColumnElement[Any]:
        if group in ("day", "hour"):
            return _bucket(self.session.get_bind().dialect.name, group)
        return _USAGE.c[_GROUP_COLUMNS[group]]


def _bucket(dialect: str, group: Group) -> ColumnElement[Any]:
    """The UTC day (`2026-11-26`) or hour (`2026-11-26T13:00:00Z`) of a record, as text."""
    if dialect == "postgresql":
        pattern = "YYYY-MM-DD" if group == "day" else 'YYYY-MM-DD"T"HH24":00:00Z"'
        return func.to_char(func.timezone("UTC", UsageRow.created_at), pattern)
    # SQLite stores the UTC time as text, "YYYY-MM-DD HH:MM:SS.ffffff".
    pattern = "%Y-%m-%d" if group == "day" else "%Y-%m-%dT%H:00:00Z"
    return func.strftime(pattern, UsageRow.created_at)


def _conditions(where: UsageFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    equal = {
        UsageRow.user_id: where.user_id,
        UsageRow.key_id: where.key_id,
        UsageRow.app: where.app,
        UsageRow.model: where.model,
        UsageRow.provider: where.provider,
    }
    conditions += [column == value for column, value in equal.items() if value is not None]
    if where.since is not None:
        conditions.append(UsageRow.created_at >= where.since)
    if where.until is not None:
        conditions.append(UsageRow.created_at < where.until)
    return conditions


def _ranked(keys: list[Any], conditions: list[ColumnElement[bool]]) -> Any:
    """The filtered records with their group's values, each latency's rank within its group
    (fastest first, unknown latencies last) and how many latencies the group has."""
    partition = [key.element for key in keys] or None
    order = [UsageRow.latency_ms.is_(None), UsageRow.latency_ms]
    return (
        select(
            *keys,
            UsageRow.prompt_tokens,
            UsageRow.completion_tokens,
            UsageRow.outcome,
            UsageRow.latency_ms,
            func.row_number().over(partition_by=partition, order_by=order).label("rank"),
            func.count(UsageRow.latency_ms).over(partition_by=partition).label("timed"),
        )
        .where(*conditions)
        .subquery("ranked")
    )


def _summary(row: Any, group_by: Sequence[Group]) -> UsageSummary:
    values = row._mapping
    return UsageSummary(
        group={g: values[g] for g in group_by},
        requests=int(values["requests"]),
        prompt_tokens=int(values["prompt_tokens"]),
        completion_tokens=int(values["completion_tokens"]),
        errors=int(values["errors"] or 0),
        cancelled=int(values["cancelled"] or 0),
        avg_latency_ms=None if values["avg_latency"] is None else float(values["avg_latency"]),
        p95_latency_ms=None if values["p95_latency"] is None else int(values["p95_latency"]),
    )


def _quota(row: QuotaRow) -> Quota:
    return Quota(
        subject_type=row.subject_type,  # type: ignore[arg-type]
        subject_id=row.subject_id,
        requests_per_minute=row.requests_per_minute,
        tokens_per_day=row.tokens_per_day,
        updated_at=row.updated_at,
    )


class QuotaRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def list(self) -> list[Quota]:
        rows = await self.session.scalars(
            select(QuotaRow).order_by(QuotaRow.subject_type, QuotaRow.subject_id)
        )
        return [_quota(row) for row in rows]

    async def get(self, subject_type: SubjectType, subject_id: str) -> Quota | None:
        row = await self._row(subject_type, subject_id)
        return None if row is None else _quota(row)

    async def put(
        self,
        subject_type: SubjectType,
        subject_id: str,
        *,
        requests_per_minute: int | None,
        tokens_per_day: int | None,
    ) -> Quota:
        row = await self._row(subject_type, subject_id)
        if row is None:
            row = QuotaRow(id=new_id("quota"), subject_type=subject_type, subject_id=subject_id)
            self.session.add(row)
        row.requests_per_minute = requests_per_minute
        row.tokens_per_day = tokens_per_day
        row.updated_at = utcnow()
        await self.session.flush()
        return _quota(row)

    async def delete(self, subject_type: SubjectType, subject_id: str) -> bool:
        result = await self.session.execute(
            delete(QuotaRow).where(
                QuotaRow.subject_type == subject_type, QuotaRow.subject_id == subject_id
            )
        )
        return bool(getattr(result, "rowcount", 0))

    async def _row(self, subject_type: SubjectType, subject_id: str) -> QuotaRow | None:
        return await self.session.scalar(
            select(QuotaRow).where(
                QuotaRow.subject_type == subject_type, QuotaRow.subject_id == subject_id
            )
        )
