"""An OAuth2 client of one authorization server: the authorization URL (code flow with PKCE
S256), the code exchange, refreshing and revoking (RFC 7009).

The protocol's pieces come from authlib (URLs, token requests, client authentication, the
PKCE challenge). This module sends them and turns every failure into a `HomeportError`:
`GrantRefused` (an `AuthenticationFailed`) when the server refuses a code or a refresh token,
`UpstreamError`s for a server that is unreachable or answers nonsense. Tokens never appear in
an error message or a `repr`. The server is configured by an admin, so it is trusted,
loopback included.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7009 import prepare_revoke_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from homeport.errors import (
    AuthenticationFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

HTTP_TIMEOUT = 10.0
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
ERROR_CODE = re.compile(r"[A-Za-z0-9_.-]{1,60}")


class GrantRefused(AuthenticationFailed):
    """The authorization server refused a code or a refresh token (`invalid_grant`, ...)."""

    def __init__(self, message: str, *, error: str):
        super().__init__(message, code="oauth_grant_refused")
        self.error = error


@dataclass(frozen=True, slots=True)
class TokenSet:
    """What a token endpoint issued; the tokens stay out of `repr`."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...] | None  # None: the server did not say (the requested ones)


@dataclass(frozen=True, slots=True)
class Endpoints:
    authorize_url: str
    token_url: str
    revoke_url: str | None


class OAuth2Client:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        endpoints: Endpoints,
        *,
        client_id: str,
        client_secret: str | None,
        name: str,
    ):
        self.http = http
        self.endpoints = endpoints
        self.client_id = client_id
        self.client_secret = client_secret
        self.name = name  # the provider's, for messages

    def authorization_url(
        self, *, redirect_uri: str, state: str, scopes: Sequence[str], code_verifier: str
    ) -> str:
        """Where to send the browser: the code flow with PKCE (S256) and a state."""
        url: str = prepare_grant_uri(
            self.endpoints.authorize_url,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=" ".join(scopes) or None,
            state=state,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def exchange(self, code: str, *, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code, with the PKCE verifier, for tokens."""
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        return await self._token(body)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """New tokens for a refresh token (which the server may rotate)."""
        return await self._token(
            prepare_token_request("refresh_token", refresh_token=refresh_token)
        )

    async def revoke(self, token: str, *, hint: str) -> None:
        """Revoke a token (RFC 7009); `hint` is "access_token" or "refresh_token"."""
        url = self.endpoints.revoke_url
        if url is None:
            return
        body, headers = prepare_revoke_token_request(token, hint, headers=dict(FORM))
        status, data = await self._post(url, body, headers, what="revocation")
        if status >= 400:
            raise UpstreamError(
                f"{self.name} answered HTTP {status} to a revocation{_error_of(data)}",
                status=status,
            )

    # -- HTTP -----------------------------------------------------------------------------

    async def _token(self, body: str) -> TokenSet:
        status, data = await self._post(self.endpoints.token_url, body, dict(FORM), what="token")
        error = data.get("error") if isinstance(data, dict) else None
        if status in (400, 401) and isinstance(error, str):
            error = error if ERROR_CODE.fullmatch(error) else "invalid_grant"
            raise GrantRefused(f"{self.name} refused the grant ({error})", error=error)
        if status >= 400 or not isinstance(data, dict):
            raise UpstreamError(f"{self.name} answered HTTP {status} to a token request")
        return _token_set(data, self.name)

    async def _post(
        self, url: str, body: str, headers: dict[str, str], *, what: str
    ) -> tuple[int, Any]:
        auth = ClientAuth(
            self.client_id,
            self.client_secret,
            "client_secret_basic" if self.client_secret else "none",
        )
        url, headers, body = auth.prepare("POST", url, headers, body)
        try:
            async with asyncio.timeout(HTTP_TIMEOUT):
                async with self.http.post(url, data=body, headers=headers) as response:
                    status, raw = response.status, await response.read()
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{self.name} did not answer ({what})") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"{self.name} is unreachable ({what}): {exc}") from exc
        try:
            return status, orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return status, None


def _token_set(data: dict[str, Any], name: str) -> TokenSet:
    access, refresh = data.get("access_token"), data.get("refresh_token")
    token_type = data.get("token_type", "Bearer")
    if not isinstance(access, str) or not access:
        raise UpstreamError(f"{name} issued no access token")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise UpstreamError(f"{name} issued a token of type {str(token_type)[:40]!r}, not Bearer")
    scope = data.get("scope")
    return TokenSet(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=_expiry(data.get("expires_in")),
        scopes=tuple(scope.split()) if isinstance(scope, str) else None,
    )


def _expiry(expires_in: Any) -> datetime | None:
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return None
    return datetime.now(UTC) + timedelta(seconds=max(0, min(expires_in, 10 * 365 * 86400)))


def _error_of(data: Any) -> str:
    error = data.get("error") if isinstance(data, dict) else None
    return f" ({error})" if isinstance(error, str) and ERROR_CODE.fullmatch(error) else ""
