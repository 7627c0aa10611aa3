"""Users' connections to business systems, as plain values: never a token or a client secret.

An app calls a business API with the calling user's own credential. A credential is a
*connection*, keyed by (user, name): for OAuth2 the name is the provider's (`brekka-sso`), for a
personal token it is the name the user stored it under (`brekka-hr`). Admins configure the
OAuth2 providers. The checks below refuse malformed names, scopes, URLs and tokens
(`ValidationFailed`) before anything is stored or sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from homeport.errors import ValidationFailed

# Provider and connection names: what app specs write (`auth.provider`, `auth.connection`).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
# RFC 6749 3.3: a scope token is printable ASCII without space, quote or backslash.
SCOPE_PATTERN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,200}")
MAX_SCOPES = 50
MAX_TOKEN_BYTES = 16 * 1024
MAX_URL = 2048
# An access token this close to its expiry is refreshed before it is handed out.
REFRESH_MARGIN = timedelta(seconds=60)


class ConnectionKind(StrEnum):
    OAUTH2 = "oauth2"  # the user connected through an OAuth2 provider
    TOKEN = "token"  # the user stored a personal token


@dataclass(frozen=True, slots=True)
class OAuthProvider:
    """An OAuth2 authorization server users may connect to; never its client secret."""

    name: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    client_id: str
    scopes: tuple[str, ...]
    confidential: bool  # whether it has a client secret
    created_by: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Connection:
    """One of a user's connections as they may see it: never its tokens."""

    name: str
    kind: ConnectionKind
    scopes: tuple[str, ...]
    expires_at: datetime | None
    connected_at: datetime


def valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None


def valid_scope(scope: str) -> bool:
    return SCOPE_PATTERN.fullmatch(scope) is not None


def valid_url(url: str) -> bool:
    """An absolute http(s) URL with a host, no credentials and no fragment."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and port_ok
        and "@" not in parts.netloc
        and not parts.fragment
        and not any(ord(c) <= 32 or ord(c) == 127 for c in url)
    )


def merge_scopes(*groups: Iterable[str]) -> tuple[str, ...]:
    """The scopes of every group, in order, each once."""
    return tuple(dict.fromkeys(scope for group in groups for scope in group))


def needs_refresh(expires_at: datetime | None, now: datetime) -> bool:
    """Whether a token expiring at `expires_at` should be refreshed before use."""
    return expires_at is not None and expires_at - now <= REFRESH_MARGIN


# -- checks of what users and admins give ------------------------------------------------


def check_name(name: str, what: str) -> None:
    if not valid_name(name):
        raise ValidationFailed(
            f"a {what}'s name is letters, digits, '.', '_' and '-' (up to 64, starting with a "
            "letter or digit), e.g. brekka-sso",
            param="name",
        )


def check_url(url: str, param: str) -> None:
    if len(url) > MAX_URL or not valid_url(url):
        raise ValidationFailed(
            f"{param} must be an http or https URL with a host (and no user or fragment)",
            param=param,
        )


def checked_scopes(scopes: list[str]) -> tuple[str, ...]:
    bad = [s for s in scopes if not valid_scope(s)]
    if bad:
        raise ValidationFailed(
            f"not a valid OAuth2 scope: {bad[0][:50]!r} (printable, no spaces or quotes)",
            param="scopes",
        )
    if len(scopes) > MAX_SCOPES:
        raise ValidationFailed(f"at most {MAX_SCOPES} scopes", param="scopes")
    return merge_scopes(scopes)


def checked_token(token: str) -> str:
    token = token.strip()
    if not token:
        raise ValidationFailed("a token cannot be empty", param="token")
    if not all(32 <= ord(c) < 127 for c in token):
        raise ValidationFailed(
            "a token is printable ASCII (it is sent in an HTTP header)", param="token"
        )
    if len(token) > MAX_TOKEN_BYTES:
        raise ValidationFailed(
            f"a token can be at most {MAX_TOKEN_BYTES // 1024} KiB", param="token"
        )
    return token


def check_text(value: str, param: str, limit: int) -> None:
    if not value or len(value) > limit or not all(32 <= ord(c) < 127 for c in value):
        raise ValidationFailed(
            f"{param} must be 1 to {limit} printable ASCII characters", param=param
        )
