"""Wire shapes of the usage report and the quotas (/api/v1/usage, /api/v1/quotas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from homeport.domain.usage import Quota, UsageSummary


class QuotaIn(BaseModel):
    """Limits to set; a field left out or null means no limit of that kind."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)


class QuotaOut(BaseModel):
    subject_type: str
    subject_id: str
    requests_per_minute: int | None
    tokens_per_day: int | None
    updated_at: datetime

    @classmethod
    def of(cls, quota: Quota) -> QuotaOut:
        return cls(
            subject_type=quota.subject_type,
            subject_id=quota.subject_id,
            requests_per_minute=quota.requests_per_minute,
            tokens_per_day=quota.tokens_per_day,
            updated_at=quota.updated_at,
        )


class QuotaList(BaseModel):
    object: Literal["list"] = "list"
    data: list[QuotaOut]


class UsageRowOut(BaseModel):
    """One group: the values it was grouped by (only those), then its figures.

    `day` is a UTC date (`2026-11-26`), `hour` the start of a UTC hour
    (`2026-11-26T13:00:00Z`); `user`, `key` and `app` are ids (null: none).
    """

    user: str | None = None
    key: str | None = None
    app: str | None = None
    model: str | None = None
    provider: str | None = None
    operation: str | None = None
    day: str | None = None
    hour: str | None = None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    errors: int
    cancelled: int
    avg_latency_ms: float | None
    p95_latency_ms: int | None

    @classmethod
    def of(cls, summary: UsageSummary) -> UsageRowOut:
        return cls(
            **summary.group,
            requests=summary.requests,
            prompt_tokens=summary.prompt_tokens,
            completion_tokens=summary.completion_tokens,
            total_tokens=summary.prompt_tokens + summary.completion_tokens,
            errors=summary.errors,
            cancelled=summary.cancelled,
            avg_latency_ms=(
                None if summary.avg_latency_ms is None else round(summary.avg_latency_ms, 1)
            ),
            p95_latency_ms=summary.p95_latency_ms,
        )


class UsageReport(BaseModel):
    object: Literal["list"] = "list"
    group_by: list[str]
    data: list[UsageRowOut]
    has_more: bool
