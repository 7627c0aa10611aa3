"""Single sign-on as plain values: who the identity provider says signed in, and how its
groups map onto Homeport's roles, organizations and teams."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from homeport.domain.access import OrgRole

# Organization and team names, as the API accepts them.
NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class GroupRule:
    """`group=org:role[:team]`: members of `group` get `role` in `org` (and join `team`)."""

    group: str
    org: str
    role: OrgRole
    team: str | None = None

    @classmethod
    def parse(cls, text: str) -> GroupRule:
        """Read one rule; the group is everything before the last '=' (it may hold '=')."""
        group, sep, target = text.strip().rpartition("=")
        parts = [p.strip() for p in target.split(":")]
        if not sep or not group.strip() or len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"'{text}' is not GROUP=ORG:ROLE or GROUP=ORG:ROLE:TEAM")
        try:
            role = OrgRole(parts[1].lower())
        except ValueError:
            known = ", ".join(r.value for r in OrgRole)
            raise ValueError(f"'{text}': unknown role '{parts[1]}' (known: {known})") from None
        names = [parts[0], *parts[2:]]
        bad = [n for n in names if not NAME.match(n)]
        if bad:
            raise ValueError(
                f"'{text}': '{bad[0]}' is not an organization or team name "
                "(lowercase letters, digits, '.', '_' and '-')"
            )
        return cls(group.strip(), parts[0], role, parts[2] if len(parts) == 3 else None)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the groups of one sign-in put a user, for the organizations the rules manage.

    `roles` has a role for every managed organization the user belongs to; a managed
    organization missing from it is one they must leave. `teams` maps each managed
    (org, team) to whether the user belongs to it.
    """

    roles: Mapping[str, OrgRole]
    teams: Mapping[tuple[str, str], bool]
    managed_orgs: frozenset[str]


def place(rules: Iterable[GroupRule], groups: Iterable[str]) -> Placement:
    """Apply the rules to a user's groups: the best role per organization wins."""
    member_of = set(groups)
    roles: dict[str, OrgRole] = {}
    teams: dict[tuple[str, str], bool] = {}
    managed: set[str] = set()
    for rule in rules:
        managed.add(rule.org)
        matched = rule.group in member_of
        if rule.team is not None:
            key = (rule.org, rule.team)
            teams[key] = teams.get(key, False) or matched
        if matched and (rule.org not in roles or rule.role.rank > roles[rule.org].rank):
            roles[rule.org] = rule.role
    return Placement(roles=roles, teams=teams, managed_orgs=frozenset(managed))


@dataclass(frozen=True, slots=True)
class SsoIdentity:
    """The validated claims of one sign-in that Homeport uses."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool | None
    name: str | None
    username: str | None
    groups: tuple[str, ...]

    @property
    def email_domain(self) -> str | None:
        if not self.email or "@" not in self.email:
            return None
        return self.email.rsplit("@", 1)[1].strip().lower() or None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, groups_claim: str) -> SsoIdentity:
        verified = claims.get("email_verified")
        if isinstance(verified, str):  # some providers send "true"/"false"
            verified = verified.lower() == "true"
        return cls(
            issuer=str(claims["iss"]),
            subject=str(claims["sub"]),
            email=_text(claims.get("email")),
            email_verified=verified if isinstance(verified, bool) else None,
            name=_text(claims.get("name")),
            username=_text(claims.get("preferred_username")),
            groups=groups_of(claims, groups_claim),
        )


def groups_of(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    """The groups in `claim`, which may be a dotted path (Keycloak: `realm_access.roles`)."""
    value: Any = claims
    for part in claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int))
    return ()


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None
