"""The authorization policy: permissions, who holds them, and what a key's scopes allow.

Every route names the one permission it needs (`homeport.api.deps.permit`); services check
what depends on the resource (an organization's admins, a grant, an owner) through
`homeport.services.access.AccessService`. Nothing else decides who may do what.

    platform admin       everything
    org owner / admin    a member's permissions, and managing their organizations
    member               a viewer's, and keys, sharing, apply, knowledge bases and secrets
                         of their own
    viewer               models, inference (chat), own sessions, profile, own usage, reading
                         the knowledge shared with them, own connections (accounts apps call)
    in no organization   profile and own usage only
"""

from __future__ import annotations

from enum import StrEnum

from homeport.domain.access import OrgRole
from homeport.domain.users import Principal
from homeport.errors import PermissionDenied


class Permission(StrEnum):
    MODELS = "models"  # list models
    INFERENCE = "inference"  # chat, completions, embeddings
    SESSIONS = "sessions"  # one's own chat sessions
    PROFILE = "profile"  # who am I, change my password, my sign-ins
    KEYS = "keys"  # one's own API keys
    ORGS_READ = "orgs:read"  # the organizations and teams one belongs to
    ORGS_MANAGE = "orgs:manage"  # members, teams and roles (of orgs one administers)
    SHARING = "sharing"  # share what one owns
    APPLY = "apply"  # declarative resources (each kind checks further)
    USAGE_OWN = "usage:own"
    KNOWLEDGE = "knowledge"  # read and query knowledge bases one may read
    KNOWLEDGE_MANAGE = "knowledge:manage"  # create knowledge bases, add sources
    SECRETS = "secrets"  # one's own secrets (set, list names, delete)
    # One's own connections to business systems (OAuth2, personal tokens), which apps' APIs
    # call with: whoever may chat with an app may connect the account it asks for.
    CONNECTIONS = "connections"
    # Platform administration.
    USERS_MANAGE = "users:manage"
    PROVIDERS_MANAGE = "providers:manage"
    USAGE_ALL = "usage:all"
    AUDIT_READ = "audit:read"
    SETTINGS_MANAGE = "settings:manage"
    RUNNERS_MANAGE = "runners:manage"  # runners, runner tokens, the model catalogue


VIEWER = frozenset(
    {
        Permission.MODELS,
        Permission.INFERENCE,
        Permission.SESSIONS,
        Permission.PROFILE,
        Permission.ORGS_READ,
        Permission.USAGE_OWN,
        Permission.KNOWLEDGE,
        Permission.CONNECTIONS,
    }
)
MEMBER = VIEWER | {
    Permission.KEYS,
    Permission.SHARING,
    Permission.APPLY,
    Permission.KNOWLEDGE_MANAGE,
    Permission.SECRETS,
}
ORG_ADMIN = MEMBER | {Permission.ORGS_MANAGE}
EVERYTHING = frozenset(Permission)
# A user in no organization (removed from all of them) keeps only their profile and usage.
OUTSIDER = frozenset({Permission.PROFILE, Permission.USAGE_OWN})

BY_ORG_ROLE = {
    OrgRole.OWNER: ORG_ADMIN,
    OrgRole.ADMIN: ORG_ADMIN,
    OrgRole.MEMBER: MEMBER,
    OrgRole.VIEWER: VIEWER,
}

# Scopes an API key may be limited to (none: all its owner's permissions).
SCOPES: dict[str, frozenset[Permission]] = {
    "inference": frozenset({Permission.MODELS, Permission.INFERENCE}),
    "sessions": frozenset({Permission.MODELS, Permission.SESSIONS, Permission.INFERENCE}),
    "read": frozenset(
        {Permission.MODELS, Permission.PROFILE, Permission.ORGS_READ, Permission.KNOWLEDGE}
    ),
}
APP_SCOPE_PREFIX = "app:"


def held(principal: Principal) -> frozenset[Permission]:
    """The permissions of the user behind the principal, before key scopes."""
    if principal.is_admin:
        return EVERYTHING
    if not principal.org_roles:
        return OUTSIDER
    best = max(principal.org_roles.values(), key=lambda role: role.rank)
    return BY_ORG_ROLE[best]


def granted(principal: Principal) -> frozenset[Permission]:
    """What this request may do: the holder's permissions, narrowed by the key's scopes."""
    permissions = held(principal)
    if not principal.scopes:
        return permissions
    allowed: set[Permission] = set()
    for scope in principal.scopes:
        allowed |= SCOPES.get(scope, frozenset())
        if scope.startswith(APP_SCOPE_PREFIX):
            allowed |= SCOPES["inference"]
    return permissions & allowed


def require(principal: Principal, permission: Permission) -> None:
    if permission not in granted(principal):
        scoped = " with the scopes of this API key" if principal.scopes else ""
        raise PermissionDenied(f"This needs the '{permission}' permission{scoped}.")


def valid_scope(scope: str) -> bool:
    return scope in SCOPES or (scope.startswith(APP_SCOPE_PREFIX) and len(scope) > 4)
