"""A real OAuth2 authorization server for tests, served over HTTP on a local port.

::

    server = FakeAuthorizationServer(client_id="homeport", client_secret="s3cret")
    with server.serve():
        server.next_login = "alice"      # who "signs in" at the next /authorize
        ...                              # point Homeport at server.authorize_url and friends
        server.login_of(token)           # "alice": whose token it is

Endpoints:

- ``GET /authorize``: checks the client, the redirect URI, ``response_type=code`` and a PKCE
  challenge with ``code_challenge_method=S256``; signs in the login named by ``login_hint``
  (or ``next_login``), approves at once and redirects (302) to the redirect URI with a code
  and the state. Refused requests go back with ``error=...``, as RFC 6749 4.1.2.1 says.
- ``POST /token``: the ``authorization_code`` grant (the code once, the same redirect URI,
  the PKCE verifier checked against the challenge) and the ``refresh_token`` grant (which
  rotates the refresh token); clients authenticate with ``client_secret_basic`` or
  ``client_secret_post`` (public clients: ``client_id`` alone). Access tokens live
  ``access_token_seconds``.
- ``POST /revoke`` (RFC 7009) and ``POST /introspect`` (RFC 7662).

Tokens and codes are random strings. Tests read the server's state through ``login_of``,
``refreshes``, ``revocations`` and ``issued``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import unquote, urlencode, urlsplit

from aiohttp import web

from homeport.testing.servers import BackgroundServer

__all__ = ["FakeAuthorizationServer"]

CODE_SECONDS = 60


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    login: str
    scope: str
    expires: float


@dataclass
class _Token:
    login: str
    scope: str
    expires: float | None  # refresh tokens do not expire
    refresh: bool
    grant: str  # the authorization the token descends from
    revoked: bool = False


class _Refused(Exception):
    def __init__(self, status: int, error: str):
        super().__init__(error)
        self.status = status
        self.error = error


class FakeAuthorizationServer:
    def __init__(
        self,
        *,
        client_id: str = "homeport",
        client_secret: str | None = "fake-client-secret",
        redirect_uris: Collection[str] | None = None,
        access_token_seconds: int = 3600,
        refresh_delay: float = 0.0,
    ):
        """`redirect_uris`: those allowed (None: any http(s) URI); `refresh_delay`: seconds
        a refresh takes, to let concurrent callers overlap."""
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uris = frozenset(redirect_uris) if redirect_uris is not None else None
        self.access_token_seconds = access_token_seconds
        self.refresh_delay = refresh_delay
        self.next_login: str | None = None
        self.deny = False  # answer the next authorizations with error=access_denied
        self.fail_revocations = False  # answer revocations with HTTP 503
        self.refreshes = 0
        self.revocations = 0
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()
        self._server: BackgroundServer | None = None

    # -- serving ------------------------------------------------------------------------

    def serve(self, *, port: int = 0) -> BackgroundServer:
        """Serve on a local port (0: a free one); stop it with ``server.stop()``."""
        self._server = BackgroundServer(self._app(), port=port).start()
        return self._server

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the authorization server is not serving; call serve() first")
        return self._server.url

    @property
    def authorize_url(self) -> str:
        return self.url + "/authorize"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def revoke_url(self) -> str:
        return self.url + "/revoke"

    @property
    def introspect_url(self) -> str:
        return self.url + "/introspect"

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_post("/revoke", self._revoke)
        app.router.add_post("/introspect", self._introspect)
        return app

    # -- for tests ------------------------------------------------------------------------

    def login_of(self, token: str) -> str | None:
        """Whose active (issued, unexpired, unrevoked) access token this is."""
        with self._lock:
            found = self._tokens.get(token)
            return found.login if found and not found.refresh and _active(found) else None

    def issued(self) -> list[str]:
        """Every access and refresh token issued so far."""
        with self._lock:
            return list(self._tokens)

    def revoke_all(self, login: str) -> None:
        """Revoke every token of `login`, as a user who withdraws access at the provider."""
        with self._lock:
            for token in self._tokens.values():
                if token.login == login:
                    token.revoked = True

    # -- /authorize -----------------------------------------------------------------------

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="unknown client_id")
        if not self._redirect_allowed(redirect_uri):
            return web.Response(status=400, text="redirect_uri not registered")
        error = self._authorization_error(query)
        if error is not None:
            _back(redirect_uri, error=error, state=query.get("state"))
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                login=query.get("login_hint") or self.next_login or "",
                scope=query.get("scope", ""),
                expires=time.time() + CODE_SECONDS,
            )
        _back(redirect_uri, code=code, state=query.get("state"))

    def _redirect_allowed(self, uri: str) -> bool:
        if self.redirect_uris is not None:
            return uri in self.redirect_uris
        return urlsplit(uri).scheme in ("http", "https")

    def _authorization_error(self, query: Any) -> str | None:
        if query.get("response_type") != "code":
            return "unsupported_response_type"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "invalid_request"
        if self.deny or not (query.get("login_hint") or self.next_login):
            return "access_denied"
        return None

    # -- /token ---------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        try:
            self._authenticate(request, form)
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                issued = self._exchange(form)
            elif grant_type == "refresh_token":
                issued = await self._refresh(form)
            else:
                raise _Refused(400, "unsupported_grant_type")
        except _Refused as refused:
            return web.json_response({"error": refused.error}, status=refused.status)
        return web.json_response(issued, headers={"Cache-Control": "no-store"})

    def _exchange(self, form: Any) -> dict[str, Any]:
        with self._lock:
            code = self._codes.pop(str(form.get("code", "")), None)
        verifier = str(form.get("code_verifier", ""))
        if (
            code is None
            or code.expires < time.time()
            or code.redirect_uri != form.get("redirect_uri")
            or not hmac.compare_digest(_challenge(verifier), code.challenge)
        ):
            raise _Refused(400, "invalid_grant")
        return self._issue(code.login, code.scope, grant=secrets.token_hex(8))

    async def _refresh(self, form: Any) -> dict[str, Any]:
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        with self._lock:
            old = self._tokens.get(str(form.get("refresh_token", "")))
            if old is None or not old.refresh or not _active(old):
                raise _Refused(400, "invalid_grant")
            old.revoked = True  # rotated: a refresh token works once
            self.refreshes += 1
        return self._issue(old.login, old.scope, grant=old.grant)

    def _issue(self, login: str, scope: str, *, grant: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        lifetime = self.access_token_seconds
        with self._lock:
            self._tokens[access] = _Token(login, scope, time.time() + lifetime, False, grant)
            self._tokens[refresh] = _Token(login, scope, None, True, grant)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
            "scope": scope,
        }

    def _authenticate(self, request: web.Request, form: Any) -> None:
        """The client, by HTTP Basic or by the form (a public client: client_id alone)."""
        client_id, secret = _basic(request.headers.get("Authorization", ""))
        if client_id is None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id != self.client_id:
            raise _Refused(401, "invalid_client")
        if self.client_secret is not None and not hmac.compare_digest(
            str(secret or "").encode(), self.client_secret.encode()
        ):
            raise _Refused(401, "invalid_client")

    # -- /revoke and /introspect ----------------------------------------------------------

    async def _revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.fail_revocations:
            return web.json_response({"error": "temporarily_unavailable"}, status=503)
        try:
            self._authenticate(request, form)
        except _Refused as refused:
            return web.json_response({"error": refused.error}, status=refused.status)
        with self._lock:
            token = self._tokens.get(str(form.get("token", "")))
            if token is not None:
                self.revocations += 1
                self._revoke_token(token)
        return web.Response(status=200)

    def _revoke_token(self, token: _Token) -> None:
        token.revoked = True
        if token.refresh:  # RFC 7009 2.1: and the access tokens of the same grant
            for other in self._tokens.values():
                if other.grant == token.grant:
                    other.revoked = True

    async def _introspect(self, request: web.Request) -> web.Response:
        form = await request.post()
        try:
            self._authenticate(request, form)
        except _Refused as refused:
            return web.json_response({"error": refused.error}, status=refused.status)
        with self._lock:
            token = self._tokens.get(str(form.get("token", "")))
            if token is None or not _active(token):
                return web.json_response({"active": False})
            answer: dict[str, Any] = {
                "active": True,
                "sub": token.login,
                "scope": token.scope,
                "client_id": self.client_id,
                "token_type": "refresh_token" if token.refresh else "access_token",
            }
            if token.expires is not None:
                answer["exp"] = int(token.expires)
        return web.json_response(answer)


def _active(token: _Token) -> bool:
    return not token.revoked and (token.expires is None or token.expires > time.time())


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _basic(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return unquote(client_id), unquote(secret)


def _back(redirect_uri: str, **params: str | None) -> NoReturn:
    """Send the browser back to the client (302), with a code or an error."""
    given = {k: v for k, v in params.items() if v is not None}
    separator = "&" if urlsplit(redirect_uri).query else "?"
    raise web.HTTPFound(redirect_uri + separator + urlencode(given))
