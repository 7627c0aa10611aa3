"""Quotas and rate limits, checked before a request reaches a provider.

    default quota ("*")   every user who has no quota of their own, each counted alone
    user quota            that user; replaces the default entirely (an empty field: no limit)
    key quota             requests made with that API key, on top of its user's
    app quota             requests made through that app, on top of the caller's

Requests per minute are counted over a sliding window (the last 60 s) by a `RateLimiter`.
The built-in `MemoryRateLimiter` counts in this process, which is right for one replica;
several replicas need a limiter they share (Redis, PostgreSQL) behind the same protocol.
Tokens per day come from recorded usage (`UsageService.tokens_today`) since midnight UTC: a
request is refused once the limit is reached (the request that crosses it is not cut short).
Refusals are `RateLimited` errors: HTTP 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.engine import Database
from homeport.db.repositories.usage import QuotaRepository
from homeport.db.repositories.users import ApiKeyRepository, UserRepository
from homeport.domain.usage import DEFAULT_SUBJECT, SUBJECT_TYPES, Caller, Quota, SubjectType
from homeport.domain.users import Principal
from homeport.errors import NotFound, RateLimited, ValidationFailed
from homeport.services.audit import AuditService
from homeport.services.usage import UsageService

WINDOW_SECONDS = 60.0
# How long the quotas read from the database are used before they are read again (a change
# made through this replica applies at once; one made through another within this time).
QUOTA_REFRESH_SECONDS = 30.0
MAX_SUBJECT_ID = 64

_Subject = tuple[SubjectType, str]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The bucket that refused a request, and the seconds until it would accept it."""

    bucket: str
    retry_after: float


class RateLimiter(Protocol):
    """Counts requests per bucket over a sliding window.

    `acquire` takes one request from every bucket (name, requests allowed per window), or
    from none of them when one is full; it returns the refusal that waits longest, if any.
    """

    async def acquire(self, buckets: Sequence[tuple[str, int]]) -> Refusal | None: ...


class MemoryRateLimiter:
    """A sliding-window log per bucket, in this process's memory (one replica)."""

    SWEEP_EVERY = 10_000

    def __init__(
        self, *, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ):
        self.window = window
        self.clock = clock
        self._times: dict[str, deque[float]] = {}
        self._calls = 0

    async def acquire(self, buckets: Sequence[tuple[str, int]]) -> Refusal | None:
        now = self.clock()
        self._sweep(now)
        refusal: Refusal | None = None
        for name, limit in buckets:
            times = self._recent(name, now)
            if len(times) >= limit:
                # The slot frees when the oldest request that keeps the bucket full expires.
                wait = times[len(times) - limit] + self.window - now if limit > 0 else math.inf
                if refusal is None or wait > refusal.retry_after:
                    refusal = Refusal(name, wait)
        if refusal is not None:
            return refusal
        for name, _ in buckets:
            self._times.setdefault(name, deque()).append(now)
        return None

    def _recent(self, name: str, now: float) -> deque[float]:
        times = self._times.get(name)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _sweep(self, now: float) -> None:
        """Now and then, forget buckets that have been idle for a whole window."""
        self._calls += 1
        if self._calls % self.SWEEP_EVERY:
            return
        idle = [name for name, times in self._times.items() if not self._recent(name, now)]
        for name in idle:
            del self._times[name]


class LimitsService:
    def __init__(
        self,
        db: Database,
        usage: UsageService,
        audit: AuditService,
        *,
        limiter: RateLimiter | None = None,
    ):
        self.db = db
        self.usage = usage
        self.audit = audit
        self.limiter: RateLimiter = limiter or MemoryRateLimiter()
        self._quotas: dict[_Subject, Quota] = {}
        self._loaded_at = -math.inf

    # -- enforcement ----------------------------------------------------------------------

    async def admit(self, caller: Caller) -> None:
        """Let a request through, or raise `RateLimited` (429) naming the limit it hit."""
        quotas = await self._current()
        if not quotas:
            return
        limits = _applicable(quotas, caller)
        for subject, quota in limits:
            if quota.tokens_per_day is not None:
                await self._check_tokens(subject, quota.tokens_per_day)
        buckets = [
            (f"{subject[0]}:{subject[1]}", quota.requests_per_minute)
            for subject, quota in limits
            if quota.requests_per_minute is not None
        ]
        if not buckets:
            return
        refusal = await self.limiter.acquire(buckets)
        if refusal is not None:
            kind, _, name = refusal.bucket.partition(":")
            limit = dict(buckets)[refusal.bucket]
            wait = max(1, math.ceil(refusal.retry_after))
            raise RateLimited(
                f"Rate limit reached: {limit} requests per minute {_whose(kind, name)}. "
                f"Try again in {wait} s.",
                retry_after=wait,
            )

    async def _check_tokens(self, subject: _Subject, limit: int) -> None:
        used = await self.usage.tokens_today(*subject)
        if used < limit:
            return
        now = datetime.now(UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        raise RateLimited(
            f"Daily token quota reached: {used:,} of {limit:,} tokens used today "
            f"{_whose(*subject)}. It resets at midnight UTC.",
            retry_after=max(1, math.ceil((midnight - now).total_seconds())),
            code="quota_exceeded",
        )

    async def _current(self) -> dict[_Subject, Quota]:
        if time.monotonic() - self._loaded_at > QUOTA_REFRESH_SECONDS:
            self._loaded_at = time.monotonic()
            async with self.db.transaction() as session:
                quotas = await QuotaRepository(session).list()
            self._quotas = {(q.subject_type, q.subject_id): q for q in quotas}
        return self._quotas

    # -- administration -------------------------------------------------------------------

    async def list(self) -> list[Quota]:
        async with self.db.transaction() as session:
            return await QuotaRepository(session).list()

    async def get(self, subject_type: str, subject_id: str) -> Quota:
        kind, ref = await self._subject(subject_type, subject_id, must_exist=False)
        async with self.db.transaction() as session:
            quota = await QuotaRepository(session).get(kind, ref)
        if quota is None:
            raise NotFound(f"no quota for {kind} '{subject_id}'", param="subject_id")
        return quota

    async def put(
        self,
        admin: Principal,
        subject_type: str,
        subject_id: str,
        *,
        requests_per_minute: int | None,
        tokens_per_day: int | None,
    ) -> Quota:
        """Set (create or replace) the limits of one subject."""
        kind, ref = await self._subject(subject_type, subject_id, must_exist=True)
        async with self.db.transaction() as session:
            quota = await QuotaRepository(session).put(
                kind,
                ref,
                requests_per_minute=requests_per_minute,
                tokens_per_day=tokens_per_day,
            )
            await self.audit.record(
                "quota.set",
                actor=admin,
                target_type="quota",
                target_id=f"{kind}:{ref}",
                details={
                    "requests_per_minute": requests_per_minute,
                    "tokens_per_day": tokens_per_day,
                },
                session=session,
            )
        self._loaded_at = -math.inf
        return quota

    async def delete(self, admin: Principal, subject_type: str, subject_id: str) -> None:
        kind, ref = await self._subject(subject_type, subject_id, must_exist=False)
        async with self.db.transaction() as session:
            if not await QuotaRepository(session).delete(kind, ref):
                raise NotFound(f"no quota for {kind} '{subject_id}'", param="subject_id")
            await self.audit.record(
                "quota.deleted",
                actor=admin,
                target_type="quota",
                target_id=f"{kind}:{ref}",
                session=session,
            )
        self._loaded_at = -math.inf

    async def _subject(self, subject_type: str, subject_id: str, *, must_exist: bool) -> _Subject:
        """The stored form of a subject: a user named by id or name becomes its id."""
        kind = _subject_type(subject_type)
        if kind == "default":
            if subject_id != DEFAULT_SUBJECT:
                raise ValidationFailed(
                    f"the default quota's subject id is '{DEFAULT_SUBJECT}'", param="subject_id"
                )
            return kind, subject_id
        if not subject_id or len(subject_id) > MAX_SUBJECT_ID:
            raise ValidationFailed(
                f"subject id must be 1 to {MAX_SUBJECT_ID} characters", param="subject_id"
            )
        if kind == "app":
            return kind, subject_id
        async with self.db.transaction() as session:
            found = await _find(session, kind, subject_id)
        if found is None and must_exist:
            raise NotFound(f"no {kind} '{subject_id}'", param="subject_id")
        return kind, found or subject_id


async def _find(session: AsyncSession, kind: SubjectType, ref: str) -> str | None:
    if kind == "key":
        key = await ApiKeyRepository(session).get(ref)
        return key.id if key else None
    users = UserRepository(session)
    user = await users.get(ref) or await users.by_name(ref)
    return user.id if user else None


def _subject_type(value: str) -> SubjectType:
    for kind in SUBJECT_TYPES:
        if kind == value:
            return kind
    raise ValidationFailed(
        f"subject type must be one of {', '.join(SUBJECT_TYPES)}", param="subject_type"
    )


def _applicable(quotas: dict[_Subject, Quota], caller: Caller) -> list[tuple[_Subject, Quota]]:
    """The quotas a caller's request counts against, each with the subject it counts for."""
    found: list[tuple[_Subject, Quota]] = []
    if caller.user_id is not None:
        user: _Subject = ("user", caller.user_id)
        quota = quotas.get(user) or quotas.get(("default", DEFAULT_SUBJECT))
        if quota is not None:
            found.append((user, quota))
    others: list[tuple[SubjectType, str | None]] = [("key", caller.key_id), ("app", caller.app)]
    for kind, ref in others:
        if ref is not None and (quota := quotas.get((kind, ref))) is not None:
            found.append(((kind, ref), quota))
    return found


def _whose(kind: str, name: str) -> str:
    if kind == "key":
        return "for this API key"
    if kind == "app":
        return f"for app '{name}'"
    return "for your account"
