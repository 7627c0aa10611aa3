"""Single sign-on against a real OpenID provider (oidc-provider-mock, run locally).

The test plays the browser: it follows Homeport's redirect to the provider, signs in there
as a configured user (the provider's form takes a subject), and brings the code back to
Homeport's callback. Tampered tokens come from a real proxy in front of the provider that
alters the token response, so Homeport's own code runs unchanged.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import werkzeug.serving
from joserfc import jwt
from joserfc.jwk import RSAKey
from oidc_provider_mock import run_server_in_thread
from werkzeug.wrappers import Request, Response

from homeport.db.repositories import OrgRepository, TeamRepository
from homeport.domain.access import OrgRole
from homeport.domain.sso import GroupRule
from homeport.errors import ValidationFailed
from homeport.services.container import Services, build_services
from homeport.settings import load_settings
from tests.conftest import ADMIN_KEY, asgi_client, make_settings

pytestmark = pytest.mark.anyio

PUBLIC_URL = "http://homeport"


@contextmanager
def _provider(**options: Any) -> Iterator[str]:
    with run_server_in_thread(**options) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OpenID provider (authorization code flow, discovery, JWKS, RS256 tokens)."""
    with _provider() as url:
        yield url


async def add_idp_user(provider: str, sub: str, **claims: Any) -> None:
    """Create or replace a user at the provider: these claims go into their ID token."""
    async with httpx.AsyncClient() as http:
        response = await http.put(f"{provider}/users/{sub}", json=claims)
        assert response.status_code == 204, response.text


@asynccontextmanager
async def homeport(tmp_path: Path, issuer: str, **overrides: Any) -> AsyncIterator[Services]:
    settings = make_settings(
        tmp_path,
        public_url=PUBLIC_URL,
        oidc_issuer=issuer,
        oidc_client_id="homeport",
        oidc_client_secret="client-secret",
        **overrides,
    )
    async with build_services(settings) as services:
        yield services


def browser(services: Services) -> httpx.AsyncClient:
    """A browser: no API key, keeps cookies."""
    return asgi_client(services, key=None)


async def start_sign_in(browser: httpx.AsyncClient, redirect: str = "/") -> str:
    """Homeport's redirect to the provider's authorization endpoint."""
    response = await browser.get("/api/v1/auth/sso/login", params={"redirect": redirect})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def sign_in_at_provider(authorize_url: str, sub: str) -> str:
    """The person signs in at the provider, which sends the browser back with a code."""
    async with httpx.AsyncClient() as http:
        response = await http.post(authorize_url, data={"sub": sub})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def sso_sign_in(
    browser: httpx.AsyncClient, sub: str, *, redirect: str = "/"
) -> httpx.Response:
    callback = await sign_in_at_provider(await start_sign_in(browser, redirect), sub)
    return await browser.get(callback)


async def whoami(browser: httpx.AsyncClient) -> dict[str, Any]:
    response = await browser.get("/api/v1/auth/session")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def audit(services: Services, action: str) -> list[dict[str, Any]]:
    async with asgi_client(services, ADMIN_KEY) as admin:
        response = await admin.get("/api/v1/audit", params={"action": action})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


async def test_sso_creates_the_user_once_and_signs_the_browser_in(
    tmp_path: Path, provider: str, database_url: str
) -> None:
    await add_idp_user(
        provider,
        "alice-sub",
        email="alice@example.com",
        email_verified=True,
        name="Alice Liddell",
        preferred_username="alice",
    )
    on = homeport(tmp_path, provider, database_url=database_url)
    async with on as services, browser(services) as first:
        authorize = await start_sign_in(first, "/chat/abc?x=1")
        query = parse_qs(urlsplit(authorize).query)
        assert authorize.startswith(f"{provider}/oauth2/authorize?")
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
        assert query["nonce"][0] and query["state"][0]
        assert query["redirect_uri"] == [f"{PUBLIC_URL}/api/v1/auth/sso/callback"]

        done = await first.get(await sign_in_at_provider(authorize, "alice-sub"))
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/chat/abc?x=1"
        session_cookie = next(
            c for c in done.headers.get_list("set-cookie") if c.startswith("homeport_session=")
        )
        assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
        assert first.cookies.get("homeport_csrf")

        me = await whoami(first)
        assert me["via"] == "session"
        assert me["user"]["name"] == "alice"
        assert me["user"]["email"] == "alice@example.com"
        assert me["user"]["display_name"] == "Alice Liddell"
        assert me["user"]["source"] == "oidc"
        assert me["user"]["roles"] == ["user"]
        # The cookie session works for unsafe requests too, with its CSRF token.
        key = await first.post(
            "/api/v1/keys",
            json={"name": "from-sso"},
            headers={"X-CSRF-Token": first.cookies["homeport_csrf"]},
        )
        assert key.status_code == 201, key.text

        async with browser(services) as second:
            assert (await sso_sign_in(second, "alice-sub")).status_code == 303
            assert (await whoami(second))["user"]["id"] == me["user"]["id"]

        async with asgi_client(services, ADMIN_KEY) as admin:
            names = [u["name"] for u in (await admin.get("/api/v1/users")).json()]
        assert names.count("alice") == 1 and len(names) == 2  # admin + alice

        logins = await audit(services, "auth.login")
        assert [e["details"]["method"] for e in logins] == ["sso", "sso"]
        assert {e["actor_user_id"] for e in logins} == {me["user"]["id"]}
        assert [e["details"]["created"] for e in logins] == [False, True]  # newest first


async def test_a_user_is_matched_by_provider_and_subject_never_by_email(
    tmp_path: Path, provider: str
) -> None:
    """Someone whose provider account claims an existing user's email (or name) gets their
    own account: they never take over the existing one."""
    await add_idp_user(
        provider, "mallory-sub", email="admin@example.com", preferred_username="admin"
    )
    async with homeport(tmp_path, provider) as services:
        async with asgi_client(services, ADMIN_KEY) as admin:
            response = await admin.patch("/api/v1/users/admin", json={"email": "admin@example.com"})
            assert response.status_code == 200, response.text
        async with browser(services) as mallory:
            assert (await sso_sign_in(mallory, "mallory-sub")).status_code == 303
            me = (await whoami(mallory))["user"]
    # "admin" is taken, so the name comes from the email; the real admin is untouched.
    assert me["name"] == "admin@example.com"
    assert me["roles"] == ["user"] and me["source"] == "oidc"


async def _placement(services: Services, user_id: str) -> tuple[dict[str, str], set[str]]:
    """The user's roles by organization name, and their teams as 'org/team'."""
    async with services.db.transaction() as session:
        orgs = OrgRepository(session)
        teams = TeamRepository(session)
        roles = {
            (await orgs.get(m.org_id)).name: m.role.value  # type: ignore[union-attr]
            for m in await orgs.memberships_of(user_id)
        }
        names = set()
        for team_id in await teams.team_ids_of(user_id):
            team = await teams.get(team_id)
            assert team is not None
            names.add(f"{(await orgs.get(team.org_id)).name}/{team.name}")  # type: ignore[union-attr]
    return roles, names


async def test_groups_make_admins_org_roles_and_teams_and_are_reapplied_at_each_sign_in(
    tmp_path: Path, provider: str, database_url: str
) -> None:
    claims = {"email": "carol@example.com", "preferred_username": "carol"}
    await add_idp_user(provider, "carol-sub", **claims, groups=["staff", "eng", "hp-admins"])
    async with homeport(
        tmp_path,
        provider,
        oidc_admin_groups="hp-admins",
        oidc_group_map="eng=acme:member:backend; eng-leads=acme:admin; staff=default:viewer",
        database_url=database_url,
    ) as services:
        async with browser(services) as carol:
            await sso_sign_in(carol, "carol-sub")
            me = (await whoami(carol))["user"]
            assert me["roles"] == ["admin", "user"]
            # An admin: the admin-only user list answers.
            assert (await carol.get("/api/v1/users")).status_code == 200
        assert await _placement(services, me["id"]) == (
            {"acme": "member", "default": "viewer"},
            {"acme/backend"},
        )

        # The provider changes her groups: the next sign-in follows.
        await add_idp_user(provider, "carol-sub", **claims, groups=["eng-leads", "staff"])
        async with browser(services) as carol:
            await sso_sign_in(carol, "carol-sub")
            assert (await whoami(carol))["user"]["roles"] == ["user"]
            assert (await carol.get("/api/v1/users")).status_code == 403
        assert await _placement(services, me["id"]) == (
            {"acme": "admin", "default": "viewer"},
            set(),
        )

        await add_idp_user(provider, "carol-sub", **claims, groups=[])
        async with browser(services) as carol:
            await sso_sign_in(carol, "carol-sub")
        assert await _placement(services, me["id"]) == ({}, set())

        changes = await audit(services, "auth.sso_access_changed")
        assert len(changes) == 3
        assert "left organization acme" in changes[0]["details"]["changes"]


async def test_groups_never_take_an_organization_its_last_owner(
    tmp_path: Path, provider: str
) -> None:
    await add_idp_user(provider, "olga-sub", preferred_username="olga", groups=["founders"])
    await add_idp_user(provider, "pete-sub", preferred_username="pete", groups=["founders"])
    async with homeport(tmp_path, provider, oidc_group_map="founders=acme:owner:board") as services:
        async with browser(services) as olga, browser(services) as pete:
            await sso_sign_in(olga, "olga-sub")
            await sso_sign_in(pete, "pete-sub")
            olga_id = (await whoami(olga))["user"]["id"]
            pete_id = (await whoami(pete))["user"]["id"]
        for sub in ("olga-sub", "pete-sub"):
            await add_idp_user(provider, sub, groups=[])
        async with browser(services) as olga, browser(services) as pete:
            await sso_sign_in(olga, "olga-sub")
            await sso_sign_in(pete, "pete-sub")
        assert await _placement(services, olga_id) == ({"default": "member"}, set())
        # Pete was the last owner left: he stays one (an admin can hand it over), but the
        # map still takes him out of the team.
        assert await _placement(services, pete_id) == (
            {"acme": "owner", "default": "member"},
            set(),
        )


async def test_only_allowed_email_domains_may_sign_in(tmp_path: Path, provider: str) -> None:
    await add_idp_user(provider, "eve-sub", email="eve@elsewhere.org", email_verified=True)
    await add_idp_user(provider, "dan-sub", email="dan@example.com", email_verified=False)
    await add_idp_user(provider, "bob-sub", email="bob@Example.com", email_verified=True)
    async with homeport(tmp_path, provider, oidc_allowed_domains="example.com") as services:
        async with browser(services) as eve:
            refused = await sso_sign_in(eve, "eve-sub")
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "sso_domain_not_allowed"
            assert "homeport_session" not in eve.cookies
        async with browser(services) as dan:
            refused = await sso_sign_in(dan, "dan-sub")
            assert refused.json()["error"]["code"] == "sso_email_unverified"
        async with browser(services) as bob:
            assert (await sso_sign_in(bob, "bob-sub")).status_code == 303
        async with asgi_client(services, ADMIN_KEY) as admin:
            names = {u["name"] for u in (await admin.get("/api/v1/users")).json()}
        assert names == {"admin", "bob@Example.com"}  # the domain is compared in any case
        failures = [e for e in await audit(services, "auth.login") if e["outcome"] == "failure"]
        assert [e["details"]["reason"] for e in failures] == [
            "sso_email_unverified",
            "sso_domain_not_allowed",
        ]


async def test_a_disabled_user_cannot_sign_in_with_sso(tmp_path: Path, provider: str) -> None:
    await add_idp_user(provider, "frank-sub", email="frank@example.com", preferred_username="frank")
    async with homeport(tmp_path, provider) as services:
        async with browser(services) as frank:
            await sso_sign_in(frank, "frank-sub")
        async with asgi_client(services, ADMIN_KEY) as admin:
            response = await admin.patch("/api/v1/users/frank", json={"disabled": True})
            assert response.status_code == 200, response.text
        async with browser(services) as frank:
            refused = await sso_sign_in(frank, "frank-sub")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "user_disabled"


# -- state, nonce, redirects -------------------------------------------------------------------


async def test_a_callback_is_refused_in_another_browser_and_when_replayed(
    tmp_path: Path, provider: str
) -> None:
    await add_idp_user(provider, "gina-sub", email="gina@example.com")
    async with homeport(tmp_path, provider) as services:
        async with browser(services) as victim, browser(services) as attacker:
            # Login CSRF: the attacker's code and state, delivered to the victim's browser.
            callback = await sign_in_at_provider(await start_sign_in(attacker), "gina-sub")
            refused = await victim.get(callback)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "sso_invalid_state"
            assert "homeport_session" not in victim.cookies

            assert (await attacker.get(callback)).status_code == 303
            replay = await attacker.get(callback)
            assert replay.status_code == 401
            assert replay.json()["error"]["code"] == "sso_invalid_state"

            # A state the provider never saw from us.
            forged = callback.replace("state=", "state=x")
            assert (await attacker.get(forged)).json()["error"]["code"] == "sso_invalid_state"
        reasons = [e["details"].get("reason") for e in await audit(services, "auth.login")]
        assert reasons.count("sso_invalid_state") == 3


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


async def test_an_id_token_for_another_nonce_is_refused(tmp_path: Path, provider: str) -> None:
    """A token minted for another sign-in (the browser altered the nonce on its way to the
    provider, as a replaying attacker would) does not sign anyone in."""
    await add_idp_user(provider, "hank-sub", email="hank@example.com")
    async with homeport(tmp_path, provider) as services, browser(services) as hank:
        authorize = _with_query(await start_sign_in(hank), nonce="a-nonce-of-another-sign-in")
        refused = await hank.get(await sign_in_at_provider(authorize, "hank-sub"))
        assert refused.status_code == 401
        error = refused.json()["error"]
        assert error["code"] == "sso_invalid_token" and "nonce" in error["message"]
        assert "homeport_session" not in hank.cookies


@pytest.mark.parametrize(
    "redirect", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"]
)
async def test_sign_in_refuses_to_redirect_off_the_server(
    tmp_path: Path, provider: str, redirect: str
) -> None:
    async with homeport(tmp_path, provider) as services, browser(services) as visitor:
        response = await visitor.get("/api/v1/auth/sso/login", params={"redirect": redirect})
    assert response.status_code == 422
    assert response.json()["error"]["param"] == "redirect"


async def test_sso_is_offered_only_when_configured(tmp_path: Path, provider: str) -> None:
    on = homeport(tmp_path / "on", provider, oidc_label="Sign in with Acme")
    async with on as services, browser(services) as visitor:
        options = (await visitor.get("/api/v1/auth/options")).json()
    assert options["sso"] == [
        {"name": "oidc", "label": "Sign in with Acme", "login_url": "/api/v1/auth/sso/login"}
    ]
    off = build_services(make_settings(tmp_path / "off"))
    async with off as services, browser(services) as visitor:
        assert (await visitor.get("/api/v1/auth/options")).json()["sso"] == []
        response = await visitor.get("/api/v1/auth/sso/login")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "sso_disabled"


# -- tampered and expired tokens ---------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def altered_claims(token: str) -> str:
    """Another subject, the provider's signature kept."""
    header, claims, signature = _parts(token)
    claims["sub"] = "someone-else"
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), signature]
    )


def signed_by_another_key(token: str) -> str:
    header, claims, _ = _parts(token)
    return jwt.encode({"alg": "RS256", **header}, claims, RSAKey.generate_key(2048))


def unsigned(token: str) -> str:
    _, claims, _ = _parts(token)
    return ".".join([_b64(b'{"alg":"none","typ":"JWT"}'), _b64(json.dumps(claims).encode()), ""])


class TamperingProxy:
    """A real HTTP proxy in front of the provider that alters the ID token it hands out."""

    def __init__(self, upstream: str, tamper: Callable[[str], str]):
        self.upstream = upstream
        self.tamper = tamper
        self.server = werkzeug.serving.make_server("localhost", 0, self, threaded=True)
        self.url = f"http://localhost:{self.server.server_port}"

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        query = request.query_string.decode()
        upstream = httpx.request(
            request.method,
            self.upstream + request.path + (f"?{query}" if query else ""),
            headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
            content=request.get_data(),
        )
        body = upstream.content
        if request.path == "/oauth2/token" and upstream.status_code == 200:
            tokens = upstream.json()
            tokens["id_token"] = self.tamper(tokens["id_token"])
            body = json.dumps(tokens).encode()
        response = Response(body, status=upstream.status_code)
        for name in ("content-type", "location"):
            if name in upstream.headers:
                response.headers[name] = upstream.headers[name]
        return response(environ, start_response)

    @contextmanager
    def running(self) -> Iterator[str]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self.url
        finally:
            self.server.shutdown()
            thread.join(5)
            self.server.server_close()


@pytest.mark.parametrize(
    ("tamper", "detail"),
    [(altered_claims, "signature"), (signed_by_another_key, "signature"), (unsigned, "")],
    ids=["altered-claims", "another-key", "unsigned"],
)
async def test_a_tampered_id_token_signs_no_one_in(
    tmp_path: Path, provider: str, tamper: Callable[[str], str], detail: str
) -> None:
    await add_idp_user(provider, "ivan-sub", email="ivan@example.com")
    with TamperingProxy(provider, tamper).running() as issuer:
        async with homeport(tmp_path, issuer) as services, browser(services) as ivan:
            refused = await sso_sign_in(ivan, "ivan-sub")
            assert refused.status_code == 401, refused.text
            error = refused.json()["error"]
            assert error["code"] == "sso_invalid_token"
            assert detail in error["message"]
            assert "homeport_session" not in ivan.cookies
            async with asgi_client(services, ADMIN_KEY) as admin:
                assert len((await admin.get("/api/v1/users")).json()) == 1
            [failure] = await audit(services, "auth.login")
    assert failure["outcome"] == "failure"
    assert failure["details"]["reason"] == "sso_invalid_token"


async def test_an_expired_id_token_is_refused(tmp_path: Path) -> None:
    with _provider(access_token_max_age=timedelta(minutes=-5)) as issuer:
        await add_idp_user(issuer, "judy-sub", email="judy@example.com")
        async with homeport(tmp_path, issuer) as services, browser(services) as judy:
            refused = await sso_sign_in(judy, "judy-sub")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "sso_invalid_token"
    assert "expired" in refused.json()["error"]["message"]


# -- settings ---------------------------------------------------------------------------------


def test_sso_settings_read_lists_and_rules_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOMEPORT_OIDC_ISSUER", "https://id.example.com/realms/acme")
    monkeypatch.setenv("HOMEPORT_OIDC_CLIENT_ID", "homeport")
    monkeypatch.setenv("HOMEPORT_OIDC_ALLOWED_DOMAINS", "example.com, example.org")
    monkeypatch.setenv("HOMEPORT_OIDC_ADMIN_GROUPS", "it-admins")
    monkeypatch.setenv(
        "HOMEPORT_OIDC_GROUP_MAP", "cn=eng,ou=groups,dc=acme=acme:member:backend; ops=acme:admin"
    )
    settings = load_settings()
    assert settings.oidc_allowed_domains == ["example.com", "example.org"]
    assert settings.oidc_admin_groups == ["it-admins"]
    assert settings.oidc_group_rules == [
        GroupRule("cn=eng,ou=groups,dc=acme", "acme", OrgRole.MEMBER, "backend"),
        GroupRule("ops", "acme", OrgRole.ADMIN),
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"oidc_group_map": "eng=acme:boss"}, "unknown role 'boss'"),
        ({"oidc_group_map": "eng=Acme:member"}, "'Acme' is not an organization"),
        ({"oidc_group_map": "just-a-group"}, "is not GROUP=ORG:ROLE"),
        ({"oidc_client_id": None}, "HOMEPORT_OIDC_CLIENT_ID must be set"),
        ({"oidc_scopes": "email profile"}, "must include 'openid'"),
    ],
)
def test_bad_sso_settings_stop_the_server_with_a_clear_message(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    values = {"oidc_issuer": "https://id.example.com", "oidc_client_id": "homeport", **overrides}
    with pytest.raises(ValidationFailed, match=message):
        load_settings(data_dir=tmp_path, **values)
