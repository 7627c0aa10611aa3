"""Users, API keys and the principal every request is made by."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from homeport.domain.access import OrgRole

ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str
    email: str | None
    roles: tuple[str, ...]
    disabled: bool
    created_at: datetime
    display_name: str | None = None
    # "bootstrap", "admin" (created by an admin), "register", "oidc"
    source: str = "admin"
    has_password: bool = False
    last_login_at: datetime | None = None

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
    """Who is asking: a user, their roles, where they belong, and how they signed in.

    `scopes` come from the API key used (none: everything its owner may do); `via` is
    "key" or "session" (a browser cookie, which unsafe requests back with a CSRF token).
    """

    user_id: str
    name: str
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    key_id: str | None = None
    org_roles: Mapping[str, OrgRole] = field(default_factory=dict)
    team_ids: frozenset[str] = frozenset()
    via: str = "key"

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def org_role(self, org_id: str) -> OrgRole | None:
        return self.org_roles.get(org_id)

    @property
    def org_ids(self) -> frozenset[str]:
        return frozenset(self.org_roles)
