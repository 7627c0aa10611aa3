"""Users, API keys and the principal every request is made by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str | None
    roles: tuple[str, ...]
    disabled: bool
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def is_active(self, now: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: a user, their roles, and the scopes of the key they used."""

    user_id: str
    name: str
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    key_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles
