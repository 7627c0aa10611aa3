"""The OpenID Connect relying party: discovery, the authorization URL, the code exchange and
the validation of ID tokens.

The protocol comes from authlib (URLs, PKCE, client authentication, the ID token's claims)
and joserfc, on which authlib builds (signatures, keys). This module fetches the provider's
documents, keeps them for an hour, and turns every failure into a `HomeportError`:
`AuthenticationFailed` for what the browser brought (a bad code or token), `UpstreamError`s
for a provider that is unreachable or answers nonsense. The issuer is configured by an
admin, so it is trusted, loopback included.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from homeport.errors import (
    AuthenticationFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

DISCOVERY_SECONDS = 3600.0
HTTP_TIMEOUT = 10.0
LEEWAY_SECONDS = 60
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


class InvalidIdToken(AuthenticationFailed):
    """The ID token is forged, altered, expired, for another client, or for another sign-in."""

    def __init__(self, reason: str):
        super().__init__(
            f"The sign-in token from the identity provider is not valid ({reason}).",
            code="sso_invalid_token",
        )
        self.reason = reason


class OidcClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        scopes: str,
    ):
        self.http = http
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.scopes = scopes
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._keys: KeySet | None = None

    # -- discovery ------------------------------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, checked to be the configured issuer's."""
        if self._metadata and time.monotonic() - self._fetched_at < DISCOVERY_SECONDS:
            return self._metadata
        url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = await self._json("GET", url, what="discovery")
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer.rstrip("/"):
            raise UpstreamError(
                f"the discovery document at {url} names the issuer "
                f"{metadata.get('issuer')!r}, not {self.issuer!r}"
            )
        missing = [
            k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if k not in metadata
        ]
        if missing:
            raise UpstreamError(f"the discovery document at {url} lacks {', '.join(missing)}")
        self._metadata, self._fetched_at, self._keys = metadata, time.monotonic(), None
        return metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            document = await self._json("GET", (await self.metadata())["jwks_uri"], what="keys")
            try:
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise UpstreamError(f"the identity provider's keys are unusable: {exc}") from exc
        return self._keys

    # -- the authorization code flow ------------------------------------------------------

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Where to send the browser: code flow with PKCE (S256), state and nonce."""
        endpoint = (await self.metadata())["authorization_endpoint"]
        url: str = prepare_grant_uri(
            endpoint,
            client_id=self.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=self.scopes,
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return url

    async def exchange(self, code: str, *, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """Trade the code for tokens (the ID token among them)."""
        metadata = await self.metadata()
        url = metadata["token_endpoint"]
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
        auth = ClientAuth(self.client_id, self.client_secret, self._auth_method(metadata))
        url, headers, body = auth.prepare("POST", url, dict(FORM), body)
        tokens = await self._json("POST", url, what="token", data=body, headers=headers)
        if not isinstance(tokens.get("id_token"), str):
            raise UpstreamError("the identity provider returned no ID token")
        return tokens

    def _auth_method(self, metadata: dict[str, Any]) -> str:
        if not self.client_secret:
            return "none"
        supported = metadata.get("token_endpoint_auth_methods_supported") or []
        if "client_secret_basic" not in supported and "client_secret_post" in supported:
            return "client_secret_post"
        return "client_secret_basic"

    async def validate_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of an ID token whose signature, issuer, audience, times and nonce hold."""
        metadata = await self.metadata()
        algorithms = [
            alg
            for alg in metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
            if alg != "none" and not alg.startswith("HS")
        ]
        registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider may have rotated its keys
                token = jwt.decode(id_token, await self._key_set(refresh=True), registry=registry)
            claims = CodeIDToken(
                token.claims,
                token.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.client_id},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                    "nonce": {"essential": True, "value": nonce},
                },
                {"nonce": nonce, "client_id": self.client_id, "access_token": access_token},
            )
            claims.validate(leeway=LEEWAY_SECONDS)
        except (JoseError, ValueError) as exc:
            raise InvalidIdToken(str(exc)) from exc
        return dict(claims)

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """Claims from the userinfo endpoint (empty when the provider has none)."""
        url = (await self.metadata()).get("userinfo_endpoint")
        if not url:
            return {}
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        return await self._json("GET", url, what="userinfo", headers=headers)

    # -- HTTP -----------------------------------------------------------------------------

    async def _json(self, method: str, url: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with asyncio.timeout(HTTP_TIMEOUT):
                async with self.http.request(method, url, **kwargs) as response:
                    status, body = response.status, await response.read()
        except TimeoutError as exc:
            raise UpstreamTimeout(f"the identity provider did not answer ({what})") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(
                f"the identity provider is unreachable ({what}): {exc}"
            ) from exc
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if status >= 400 and what == "token" and isinstance(data, dict) and "error" in data:
            # invalid_grant and friends: the code was used, expired, or not issued to us.
            raise AuthenticationFailed(
                f"The identity provider refused the sign-in: {data['error']}", code="sso_failed"
            )
        if status >= 400 or not isinstance(data, dict):
            raise UpstreamError(f"the identity provider answered HTTP {status} ({what})")
        return data
