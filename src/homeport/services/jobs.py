"""Background jobs on the database: a few workers in this process claim due jobs with a lease.

A job is enqueued under a key (enqueueing the same key again re-queues it rather than adding
a second). A worker claims the oldest due job, runs its kind's handler while extending the
lease, and deletes the job when the handler returns. A handler that raises is retried with
backoff, then marked failed. A worker that stops gives its job back; one that crashes loses
its lease, and the job runs again after the lease ends: handlers are idempotent.

With several replicas the same table is shared (claims are conditional updates), so no job
runs twice at once; a well-kept job library can take this table's place without changing the
handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from homeport.db.engine import Database
from homeport.db.repositories.jobs import Job, JobRepository

log = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
LEASE = timedelta(seconds=60)
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 3


class JobRunner:
    def __init__(self, db: Database, *, workers: int, lease: timedelta = LEASE):
        self.db = db
        self.workers = workers
        self.lease = lease
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    async def enqueue(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        async with self.db.transaction() as session:
            await JobRepository(session).enqueue(kind, key, payload)
        self.wake()

    def wake(self) -> None:
        """Look for due jobs now (after jobs were enqueued in a caller's transaction)."""
        self._wake.set()

    async def pending(self, key_prefix: str) -> int:
        async with self.db.transaction() as session:
            return await JobRepository(session).pending(key_prefix)

    async def run(self) -> None:
        """Run the workers until `stop()`, or until cancelled."""
        self._stopping = False
        workers = [asyncio.create_task(self._work(n)) for n in range(self.workers)]
        try:
            await asyncio.gather(*workers)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def stop(self) -> None:
        """Let idle workers end between polls (a worker cancelled inside a database call
        can leave its connection half closed); a job in progress is cancelled by the caller."""
        self._stopping = True
        self._wake.set()

    async def _work(self, number: int) -> None:
        while not self._stopping:
            job = await self._claim()
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                continue
            await self._run(job)

    async def _claim(self) -> Job | None:
        async with self.db.transaction() as session:
            return await JobRepository(session).claim(list(self._handlers), lease=self.lease)

    async def _run(self, job: Job) -> None:
        keeper = asyncio.create_task(self._keep_lease(job))
        try:
            await self._handlers[job.kind](job)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(job))
            raise
        except Exception as exc:
            log.exception("job %s (%s) failed", job.key, job.kind)
            await self._fail(job, exc)
        else:
            async with self.db.transaction() as session:
                await JobRepository(session).finish(job.id)
        finally:
            keeper.cancel()

    async def _keep_lease(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            async with self.db.transaction() as session:
                await JobRepository(session).extend(job.id, lease=self.lease)

    async def _release(self, job: Job) -> None:
        async with self.db.transaction() as session:
            await JobRepository(session).release(job.id)

    async def _fail(self, job: Job, exc: Exception) -> None:
        retry = None if job.attempts >= MAX_ATTEMPTS else timedelta(seconds=2**job.attempts)
        async with self.db.transaction() as session:
            await JobRepository(session).fail(
                job.id, str(exc) or type(exc).__name__, retry_in=retry
            )
        self._wake.set()
