"""Usage and quotas: what an inference request cost, whom it was for, and the limits on that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, Protocol

from homeport.domain.users import Principal

SubjectType = Literal["user", "key", "app", "default"]
SUBJECT_TYPES: tuple[SubjectType, ...] = ("user", "key", "app", "default")
# The subject id of the default quota, which applies to every user without one of their own.
DEFAULT_SUBJECT = "*"

# What a usage report can be grouped by.
Group = Literal["user", "key", "app", "model", "provider", "operation", "day", "hour"]
GROUPS: tuple[Group, ...] = (
    "user",
    "key",
    "app",
    "model",
    "provider",
    "operation",
    "day",
    "hour",
)


@dataclass(frozen=True, slots=True)
class Caller:
    """Whom an inference request is made for: the user, the API key used, the app (if any)."""

    user_id: str | None = None
    key_id: str | None = None
    app: str | None = None

    @classmethod
    def of(cls, principal: Principal, *, app: str | None = None) -> Caller:
        return cls(user_id=principal.user_id, key_id=principal.key_id, app=app)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One inference request, once it has ended (`outcome`: ok, error or cancelled)."""

    user_id: str | None
    key_id: str | None
    app: str | None
    provider: str
    model: str
    operation: str
    outcome: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    created_at: datetime

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def day(self) -> date:
        return self.created_at.date()

    def subjects(self) -> list[tuple[SubjectType, str]]:
        """The quota subjects this request counts against."""
        found: list[tuple[SubjectType, str]] = []
        if self.user_id is not None:
            found.append(("user", self.user_id))
        if self.key_id is not None:
            found.append(("key", self.key_id))
        if self.app is not None:
            found.append(("app", self.app))
        return found


class UsageSink(Protocol):
    """Where the inference router hands each finished request. Must not block."""

    def record(self, record: UsageRecord) -> None: ...


@dataclass(frozen=True, slots=True)
class Quota:
    """Limits for a user, a key, an app, or every user (`default`); None: no limit."""

    subject_type: SubjectType
    subject_id: str
    requests_per_minute: int | None
    tokens_per_day: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class UsageFilter:
    """Which usage records a report covers; None: any. `until` is exclusive."""

    user_id: str | None = None
    key_id: str | None = None
    app: str | None = None
    model: str | None = None
    provider: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """One row of a usage report: the group's values and what its requests cost."""

    group: dict[str, str | None] = field(default_factory=dict)
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0
    cancelled: int = 0
    avg_latency_ms: float | None = None
    p95_latency_ms: int | None = None
