"""Organizations, teams, roles and grants: who may do what, as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class OrgRole(StrEnum):
    """A member's role in an organization, from the most to the least powerful."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: OrgRole) -> bool:
        return self.rank >= other.rank


_RANKS = {OrgRole.OWNER: 3, OrgRole.ADMIN: 2, OrgRole.MEMBER: 1, OrgRole.VIEWER: 0}


class SubjectType(StrEnum):
    USER = "user"
    TEAM = "team"
    ORG = "org"


class GrantPermission(StrEnum):
    USE = "use"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    name: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: str
    user_id: str
    role: OrgRole


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    org_id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Grant:
    """`resource` is usable (or editable) by `subject` (a user, a team, an organization)."""

    id: str
    resource_type: str
    resource_id: str
    subject_type: SubjectType
    subject_id: str
    permission: GrantPermission
    created_by: str | None
    created_at: datetime
