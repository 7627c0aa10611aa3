"""Browser sessions, sign-in throttling and server settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.tables import BrowserSessionRow, LoginThrottleRow, ServerSettingRow, utcnow
from homeport.domain.ids import new_id


class BrowserSessionRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def add(
        self,
        *,
        user_id: str,
        token_hash: str,
        csrf_token: str,
        expires_at: datetime,
        user_agent: str | None,
        ip: str | None,
    ) -> BrowserSessionRow:
        row = BrowserSessionRow(
            id=new_id("bsess"),
            user_id=user_id,
            token_hash=token_hash,
            csrf_token=csrf_token,
            expires_at=expires_at,
            user_agent=user_agent,
            ip=ip,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def by_token_hash(self, token_hash: str) -> BrowserSessionRow | None:
        return await self.session.scalar(
            select(BrowserSessionRow).where(BrowserSessionRow.token_hash == token_hash)
        )

    async def revoke(self, session_id: str) -> None:
        await self.session.execute(
            update(BrowserSessionRow)
            .where(BrowserSessionRow.id == session_id, BrowserSessionRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def revoke_all(self, user_id: str, *, except_id: str | None = None) -> list[str]:
        """Sign a user out everywhere (but `except_id`); returns the ids signed out."""
        query = select(BrowserSessionRow.id).where(
            BrowserSessionRow.user_id == user_id, BrowserSessionRow.revoked_at.is_(None)
        )
        if except_id is not None:
            query = query.where(BrowserSessionRow.id != except_id)
        ids = list(await self.session.scalars(query))
        if ids:
            await self.session.execute(
                update(BrowserSessionRow)
                .where(BrowserSessionRow.id.in_(ids))
                .values(revoked_at=utcnow())
            )
        return ids


class ThrottleRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, key: str) -> LoginThrottleRow | None:
        return await self.session.get(LoginThrottleRow, key)

    async def record_failure(self, key: str, *, now: datetime, window_start: datetime) -> int:
        """Count a failure in the window; returns the failures counted so far.

        The count starts again once both its first failure and the end of its last block
        lie before `window_start`, so blocks grow while failures keep coming.
        """
        row = await self._locked_row(key, now)
        if row.first_failure_at < window_start and (
            row.blocked_until is None or row.blocked_until < window_start
        ):
            row.failures, row.first_failure_at, row.blocked_until = 0, now, None
        row.failures += 1
        await self.session.flush()
        return row.failures

    async def _locked_row(self, key: str, now: datetime) -> LoginThrottleRow:
        """The key's row, created if missing and locked until the transaction ends, so that
        concurrent failures are all counted (and none fails on the primary key)."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        await self.session.execute(
            insert(LoginThrottleRow)
            .values(key=key, failures=0, first_failure_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = await self.session.scalar(
            select(LoginThrottleRow)
            .where(LoginThrottleRow.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return row

    async def block(self, key: str, until: datetime) -> None:
        await self.session.execute(
            update(LoginThrottleRow).where(LoginThrottleRow.key == key).values(blocked_until=until)
        )

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginThrottleRow).where(LoginThrottleRow.key == key))


class ServerSettingRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def get(self, key: str, default: Any = None) -> Any:
        row = await self.session.get(ServerSettingRow, key)
        return row.value if row else default

    async def claim(self, key: str) -> bool:
        """Create `key` once: True for the one caller that did, even when several race."""
        try:
            async with self.session.begin_nested():
                self.session.add(ServerSettingRow(key=key, value=True))
        except IntegrityError:
            return False
        return True

    async def set(self, key: str, value: Any) -> None:
        row = await self.session.get(ServerSettingRow, key)
        if row is None:
            self.session.add(ServerSettingRow(key=key, value=value))
        else:
            row.value = value
        await self.session.flush()
