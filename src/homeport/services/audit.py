"""Recording security-relevant events, and reading them back (admins).

Services call `record` for what happened through them: sign-ins (and failed ones), keys
created and revoked, resources applied, sharing and roles changed, tool calls. Details never
hold secrets. The log is append-only: no code path updates or deletes an event.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.db.engine import Database
from homeport.db.repositories.audit import AuditRepository
from homeport.domain.audit import AuditEvent
from homeport.domain.users import Principal

log = logging.getLogger("homeport.audit")


class AuditService:
    def __init__(self, db: Database):
        self.db = db

    async def record(
        self,
        action: str,
        *,
        actor: Principal | None = None,
        actor_user_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        outcome: str = "success",
        ip: str | None = None,
        details: dict[str, Any] | None = None,
        session: AsyncSession | None = None,
    ) -> AuditEvent:
        """Append an event; inside the caller's transaction when `session` is given."""
        values = {
            "action": action,
            "outcome": outcome,
            "actor_user_id": actor.user_id if actor else actor_user_id,
            "actor_key_id": actor.key_id if actor else None,
            "target_type": target_type,
            "target_id": target_id,
            "ip": ip,
            "details": details or {},
        }
        log.info("%s %s %s:%s", action, outcome, target_type or "-", target_id or "-", extra=values)
        if session is not None:
            return await AuditRepository(session).append(**values)
        async with self.db.transaction() as own:
            return await AuditRepository(own).append(**values)

    async def page(
        self,
        *,
        limit: int,
        before: str | None = None,
        action: str | None = None,
        actor_user_id: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[AuditEvent], bool]:
        async with self.db.transaction() as session:
            return await AuditRepository(session).page(
                limit=limit,
                before=before,
                action=action,
                actor_user_id=actor_user_id,
                target_id=target_id,
                since=since,
                until=until,
            )
