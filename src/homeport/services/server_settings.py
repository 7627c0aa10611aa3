"""Settings admins change at run time, stored in the database (`server_settings`).

Each has a default from the environment (`homeport.settings.Settings`); a value an admin set
wins over it, on every replica.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from homeport.db.engine import Database
from homeport.db.repositories import ServerSettingRepository
from homeport.domain.users import Principal
from homeport.errors import ValidationFailed
from homeport.outbound import OutboundPolicy
from homeport.services.audit import AuditService
from homeport.settings import Settings

REGISTRATION_MODES = ("open", "closed")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    # "open": anyone may create an account; "closed": only admins create users.
    registration: str
    # Private destinations outbound fetches may reach, besides HOMEPORT_OUTBOUND_ALLOW
    # (hosts, host:port pairs or CIDRs).
    outbound_allow: tuple[str, ...] = ()


class ServerSettingsService:
    def __init__(self, db: Database, audit: AuditService, defaults: Settings):
        self.db = db
        self.audit = audit
        self.defaults = ServerSettings(registration=defaults.registration)

    async def get(self) -> ServerSettings:
        async with self.db.transaction() as session:
            stored = ServerSettingRepository(session)
            registration = await stored.get("registration", self.defaults.registration)
            outbound = await stored.get("outbound_allow", [])
        if registration not in REGISTRATION_MODES:
            registration = self.defaults.registration
        allow = tuple(str(e) for e in outbound) if isinstance(outbound, list) else ()
        return replace(self.defaults, registration=registration, outbound_allow=allow)

    async def update(
        self,
        actor: Principal,
        *,
        registration: str | None = None,
        outbound_allow: list[str] | None = None,
        ip: str | None = None,
    ) -> ServerSettings:
        """Change the settings given (None: unchanged); the change is audited."""
        if registration is not None and registration not in REGISTRATION_MODES:
            raise ValidationFailed(
                f"registration is one of: {', '.join(REGISTRATION_MODES)}", param="registration"
            )
        if outbound_allow is not None:
            OutboundPolicy(outbound_allow)  # a bad entry is refused, naming it
        before = await self.get()
        changes: dict[str, Any] = {}
        if registration is not None and registration != before.registration:
            changes["registration"] = {"from": before.registration, "to": registration}
        if outbound_allow is not None and tuple(outbound_allow) != before.outbound_allow:
            changes["outbound_allow"] = {"from": list(before.outbound_allow), "to": outbound_allow}
        if not changes:
            return before
        async with self.db.transaction() as session:
            stored = ServerSettingRepository(session)
            for key, change in changes.items():
                await stored.set(key, change["to"])
            await self.audit.record(
                "settings.changed",
                actor=actor,
                target_type="settings",
                target_id="server",
                ip=ip,
                details=changes,
                session=session,
            )
        return await self.get()
