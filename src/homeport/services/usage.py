"""Usage accounting: every inference request recorded, in batches, off the hot path.

The inference router hands each finished request to `UsageService.record`, which only
appends it to a buffer. A background task writes the buffer in one transaction every
`flush_seconds`, or sooner once `batch_size` records wait, and once more on shutdown, so
nothing recorded before a clean shutdown is lost. A batch that fails to write stays in the
buffer and is tried again.

It also knows how many tokens a user, key or app has used today (UTC), for the daily token
quotas: the database's sum, loaded once per subject and day (and again after
`SHARED_REFRESH_SECONDS`, to see other replicas' usage), plus what this process recorded
since, written yet or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as day_time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.auth.policy import Permission, granted
from homeport.db.engine import Database
from homeport.db.repositories.usage import UsageRepository
from homeport.db.repositories.users import UserRepository
from homeport.domain.usage import Group, SubjectType, UsageFilter, UsageRecord, UsageSummary
from homeport.domain.users import Principal
from homeport.errors import PermissionDenied, ValidationFailed

log = logging.getLogger(__name__)

# How long a subject's daily total read from the database is trusted before it is read
# again (it misses only what other replicas recorded meanwhile).
SHARED_REFRESH_SECONDS = 60.0
# Records kept when the database cannot be written; beyond it the oldest are dropped.
MAX_BUFFERED = 100_000

_Subject = tuple[SubjectType, str]
_DayKey = tuple[SubjectType, str, date]


class _Ledger:
    """Tokens per subject and UTC day: the database's sum when read, plus what was
    written after that (`stored`), plus what waits in the buffer (`pending`)."""

    def __init__(self) -> None:
        self.stored: dict[_DayKey, tuple[int, float]] = {}
        self.pending: defaultdict[_DayKey, int] = defaultdict(int)

    def add(self, record: UsageRecord) -> None:
        for subject_type, subject_id in record.subjects():
            self.pending[(subject_type, subject_id, record.day)] += record.tokens

    def written(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            for subject_type, subject_id in record.subjects():
                key = (subject_type, subject_id, record.day)
                self._unpend(key, record.tokens)
                if key in self.stored:
                    total, loaded = self.stored[key]
                    self.stored[key] = (total + record.tokens, loaded)

    def dropped(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            for subject_type, subject_id in record.subjects():
                self._unpend((subject_type, subject_id, record.day), record.tokens)

    def forget_before(self, today: date) -> None:
        for key in [k for k in self.stored if k[2] < today]:
            del self.stored[key]

    def _unpend(self, key: _DayKey, tokens: int) -> None:
        left = self.pending.get(key, 0) - tokens
        if left > 0:
            self.pending[key] = left
        else:
            self.pending.pop(key, None)


class UsageService:
    def __init__(self, db: Database, *, flush_seconds: float = 1.0, batch_size: int = 500):
        self.db = db
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self._buffer: list[UsageRecord] = []
        self._ledger = _Ledger()
        # Held while a batch is written and while a daily total is read, so that a total
        # never counts a record twice (read, then added when written) or not at all.
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False

    # -- recording ----------------------------------------------------------------------

    def record(self, record: UsageRecord) -> None:
        """Accept a finished request's record; it is written within `flush_seconds`."""
        self._buffer.append(record)
        self._ledger.add(record)
        if len(self._buffer) >= self.batch_size:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Records accepted and not written yet."""
        return len(self._buffer)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[UsageService]:
        """Write batches in the background while the block runs; write the rest at its end."""
        self._stopping = False
        task = asyncio.create_task(self._write_forever(), name="usage-writer")
        try:
            yield self
        finally:
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.flush()
            if self._buffer:
                log.error("%d usage records could not be written at shutdown", len(self._buffer))

    async def _write_forever(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_seconds)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the batch is kept; the writer must go on
                log.exception("writing usage records failed")

    async def flush(self) -> int:
        """Write what the buffer holds now, in one transaction; returns how many were written."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return 0
            try:
                async with self.db.transaction() as session:
                    await UsageRepository(session).add_many(batch)
            except (SQLAlchemyError, OSError) as exc:
                self._keep(batch)
                log.warning("writing %d usage records failed, will retry: %s", len(batch), exc)
                return 0
            except BaseException:
                self._keep(batch)
                raise
            self._ledger.written(batch)
            self._ledger.forget_before(datetime.now(UTC).date())
            return len(batch)

    def _keep(self, batch: list[UsageRecord]) -> None:
        self._buffer[:0] = batch
        excess = len(self._buffer) - MAX_BUFFERED
        if excess > 0:
            dropped, self._buffer = self._buffer[:excess], self._buffer[excess:]
            self._ledger.dropped(dropped)
            log.error("dropped %d usage records: the database is not accepting them", excess)

    # -- daily totals (for quotas) --------------------------------------------------------

    async def tokens_today(self, subject_type: SubjectType, subject_id: str) -> int:
        """Tokens a user, key or app has used since midnight UTC, this request excluded."""
        today = datetime.now(UTC).date()
        key = (subject_type, subject_id, today)
        stored = self._ledger.stored.get(key)
        if stored is None or time.monotonic() - stored[1] > SHARED_REFRESH_SECONDS:
            async with self._lock:
                since = datetime.combine(today, day_time(), tzinfo=UTC)
                async with self.db.transaction() as session:
                    total = await UsageRepository(session).tokens_since(
                        subject_type, subject_id, since
                    )
                stored = (total, time.monotonic())
                self._ledger.stored[key] = stored
        return stored[0] + self._ledger.pending.get(key, 0)

    # -- reports ----------------------------------------------------------------------------

    async def report(
        self,
        principal: Principal,
        where: UsageFilter,
        *,
        group_by: Sequence[Group] = (),
        limit: int = 1000,
    ) -> tuple[list[UsageSummary], bool]:
        """Usage grouped as asked; only the caller's own unless they may see everyone's."""
        if len(set(group_by)) != len(group_by):
            raise ValidationFailed("group_by names a field twice", param="group_by")
        if "day" in group_by and "hour" in group_by:
            raise ValidationFailed("group by day or by hour, not both", param="group_by")
        async with self.db.transaction() as session:
            if where.user_id is not None:
                where = replace(where, user_id=await _user_id(session, where.user_id))
            where = self._visible(principal, where)
            return await UsageRepository(session).report(where, group_by, limit=limit)

    def _visible(self, principal: Principal, where: UsageFilter) -> UsageFilter:
        if Permission.USAGE_ALL in granted(principal):
            return where
        if where.user_id not in (None, principal.user_id):
            raise PermissionDenied(
                "Only admins may see other users' usage.", code="usage_not_visible"
            )
        return replace(where, user_id=principal.user_id)


async def _user_id(session: AsyncSession, ref: str) -> str:
    """A user named by id or by name; a ref that names no user is taken as an id."""
    users = UserRepository(session)
    user = await users.get(ref) or await users.by_name(ref)
    return user.id if user else ref
