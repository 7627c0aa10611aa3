"""Local accounts: registration, password sign-in with cookies and CSRF, throttling, password
changes, and admins managing users (disable, reset, delete with or without a hand-over)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from homeport.db.tables import LoginThrottleRow
from homeport.services.container import Services, build_services
from homeport.settings import Settings
from tests.conftest import asgi_client, make_settings, new_user_key

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
SESSION_COOKIE = "homeport_session"
CSRF_COOKIE = "homeport_csrf"


def browser(services: Services) -> httpx.AsyncClient:
    """A client with no key that keeps cookies, like a browser."""
    return asgi_client(services, key=None)


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}


async def register(
    client: httpx.AsyncClient, name: str, password: str = PASSWORD, **fields: Any
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register", json={"name": name, "password": password, **fields}
    )


async def login(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"name": name, "password": password})


@asynccontextmanager
async def signed_in(
    services: Services, name: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(services) as client:
        response = await login(client, name, password)
        assert response.status_code == 200, response.text
        yield client


async def status_with_cookie(services: Services, path: str, token: str) -> int:
    """What a browser holding only this session cookie gets."""
    async with browser(services) as other:
        other.cookies.set(SESSION_COOKIE, token)
        return (await other.get(path)).status_code


async def create_user(client: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/users", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def audit(client: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/audit", params={"action": action, "limit": 500})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def cookie_header(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def error_code(response: httpx.Response) -> str | None:
    return response.json()["error"]["code"]  # type: ignore[no-any-return]


# -- registration ----------------------------------------------------------------------------


async def test_the_first_to_register_becomes_admin_and_later_ones_users(
    services: Services, client: httpx.AsyncClient
) -> None:
    async with browser(services) as alice, browser(services) as bob:
        first = await register(alice, "alice", email="alice@example.com", display_name="Alice")
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["user"]["roles"] == ["admin"]
        assert (body["user"]["display_name"], body["user"]["source"]) == ("Alice", "register")
        assert body["user"]["has_password"] is True
        assert body["csrf_token"] == alice.cookies[CSRF_COOKIE]

        me = await alice.get("/api/v1/me")
        assert (me.status_code, me.json()["name"]) == (200, "alice")

        second = await register(bob, "bob")
        assert second.status_code == 201, second.text
        assert second.json()["user"]["roles"] == ["user"]
        assert (await bob.get("/api/v1/users")).status_code == 403
        assert (await alice.get("/api/v1/users")).status_code == 200

    # The bootstrap admin (a key, no password) did not count as "the first person".
    users = {u["name"]: u for u in (await client.get("/api/v1/users")).json()}
    assert users["admin"]["has_password"] is False
    events = await audit(client, "auth.register")
    assert {e["details"]["name"] for e in events} == {"alice", "bob"}
    assert all(e["ip"] for e in events)


async def test_registration_can_be_closed_and_reopened_by_admins(tmp_path: Path) -> None:
    async with build_services(make_settings(tmp_path, registration="closed")) as services:
        async with browser(services) as anonymous, asgi_client(services) as admin:
            options = await anonymous.get("/api/v1/auth/options")
            assert options.json() == {"registration": "closed", "sso": []}
            refused = await register(anonymous, "alice")
            assert refused.status_code == 403
            assert error_code(refused) == "registration_closed"
            assert "closed" in refused.json()["error"]["message"]

            assert (await admin.get("/api/v1/settings")).json() == {
                "registration": "closed",
                "outbound_allow": [],
            }
            opened = await admin.put("/api/v1/settings", json={"registration": "open"})
            assert opened.json() == {"registration": "open", "outbound_allow": []}
            assert (await anonymous.get("/api/v1/auth/options")).json()["registration"] == "open"
            assert (await register(anonymous, "alice")).status_code == 201

        async with browser(services) as bob, asgi_client(services) as admin:
            assert (await register(bob, "bob")).json()["user"]["roles"] == ["user"]
            # A signed-in user who is not an admin may not change it.
            assert (await bob.get("/api/v1/settings")).status_code == 403
            closing = await bob.put(
                "/api/v1/settings", json={"registration": "closed"}, headers=csrf(bob)
            )
            assert closing.status_code == 403

            await admin.put("/api/v1/settings", json={"registration": "closed"})
            async with browser(services) as late:
                assert (await register(late, "bob")).status_code == 403
            bad = await admin.put("/api/v1/settings", json={"registration": "sometimes"})
            assert bad.status_code == 422
            changed = await audit(admin, "settings.changed")
            assert [e["details"]["registration"]["to"] for e in changed] == ["closed", "open"]


async def test_registration_refuses_bad_input_with_4xx(services: Services) -> None:
    async with browser(services) as anonymous:
        assert (await register(anonymous, "alice")).status_code == 201
        cases: list[tuple[Any, int]] = [
            ({"name": "alice", "password": PASSWORD}, 409),
            ({"name": "bob", "password": "short"}, 422),
            ({"name": "bob"}, 422),
            ({"name": "", "password": PASSWORD}, 422),
            ({"name": "bob smith", "password": PASSWORD}, 422),
            ({"name": "bob", "password": PASSWORD, "email": "not-an-email"}, 422),
            ({"name": "bob", "password": PASSWORD, "roles": ["admin"]}, 422),
            ({"name": "bob", "password": "x" * 5000}, 422),
            ({"name": ["bob"], "password": PASSWORD}, 422),
            ("not an object", 422),
        ]
        for body, expected in cases:
            response = await anonymous.post("/api/v1/auth/register", json=body)
            assert response.status_code == expected, (body, response.text)
        garbage = await anonymous.post(
            "/api/v1/auth/register",
            content=b"{nope",
            headers={"Content-Type": "application/json"},
        )
        assert garbage.status_code == 400


# -- signing in and out ------------------------------------------------------------------------


async def test_sign_in_sets_secure_cookies_and_sign_out_clears_them(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, public_url="https://homeport.example")
    async with build_services(settings) as services, asgi_client(services) as admin:
        await create_user(admin, "alice", password=PASSWORD)
        async with browser(services) as alice:
            response = await login(alice, "alice")
            assert response.status_code == 200, response.text
            session = cookie_header(response, SESSION_COOKIE).lower()
            for flag in ("httponly", "secure", "samesite=lax", "path=/", "max-age=1209600"):
                assert flag in session, session
            token = cookie_header(response, CSRF_COOKIE).lower()
            assert "httponly" not in token and "secure" in token
            assert response.json()["csrf_token"]
            assert response.json()["user"]["name"] == "alice"


async def test_sign_in_out_and_the_session(services: Services, client: httpx.AsyncClient) -> None:
    await create_user(client, "alice", password=PASSWORD, email="Alice@Example.com")
    async with browser(services) as alice:
        response = await login(alice, "alice")
        session = cookie_header(response, SESSION_COOKIE).lower()
        assert "httponly" in session and "secure" not in session  # plain http here
        current = await alice.get("/api/v1/auth/session")
        assert current.status_code == 200
        assert current.json()["user"]["name"] == "alice"
        assert current.json()["csrf_token"] == alice.cookies[CSRF_COOKIE]
        assert current.json()["via"] == "session"

        refused = await alice.post("/api/v1/auth/logout")
        assert (refused.status_code, error_code(refused)) == (403, "csrf_failed")
        token = alice.cookies[SESSION_COOKIE]
        out = await alice.post("/api/v1/auth/logout", headers=csrf(alice))
        assert out.status_code == 204
        assert "max-age=0" in cookie_header(out, SESSION_COOKIE).lower()
        assert SESSION_COOKIE not in alice.cookies
        assert (await alice.get("/api/v1/me")).status_code == 401
        assert await status_with_cookie(services, "/api/v1/me", token) == 401

        # Signing out again, or without a session at all, is not an error.
        assert (await alice.post("/api/v1/auth/logout")).status_code == 204

        by_email = await login(alice, "alice@example.com")
        assert by_email.status_code == 200, by_email.text

    via_key = await client.get("/api/v1/auth/session")
    assert via_key.json()["csrf_token"] is None and via_key.json()["via"] == "key"
    assert [e["outcome"] for e in await audit(client, "auth.logout")] == ["success"]


async def test_wrong_name_and_wrong_password_get_the_same_answer(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    await create_user(client, "nopass")  # made by an admin without a password
    async with browser(services) as anonymous:
        answers = [
            await login(anonymous, "alice", "wrong password!"),
            await login(anonymous, "nobody", PASSWORD),
            await login(anonymous, "nopass", PASSWORD),
            await login(anonymous, "nopass", ""),
        ]
        for answer in answers[:3]:
            assert answer.status_code == 401, answer.text
            assert answer.json() == answers[0].json()
            assert SESSION_COOKIE not in anonymous.cookies
        assert answers[3].status_code == 422
        assert (await anonymous.get("/api/v1/me")).status_code == 401

    failures = await audit(client, "auth.login")
    assert {e["details"]["name"] for e in failures} == {"alice", "nobody", "nopass"}
    assert all(e["outcome"] == "failure" and e["ip"] for e in failures)
    assert PASSWORD not in str(failures) and "wrong password!" not in str(failures)


async def test_a_session_is_never_reused_across_sign_ins(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    await create_user(client, "mallory", password=PASSWORD)
    async with browser(services) as victim:
        # Mallory plants her own session cookie in the victim's browser...
        async with signed_in(services, "mallory") as mallory:
            planted = mallory.cookies[SESSION_COOKIE]
        victim.cookies.set(SESSION_COOKIE, planted, domain="homeport.local")
        # ...the victim signs in: a new session; the planted one is dead.
        response = await login(victim, "alice")
        fresh = victim.cookies[SESSION_COOKIE]
        assert fresh != planted
        assert (await victim.get("/api/v1/me")).json()["name"] == "alice"
        assert await status_with_cookie(services, "/api/v1/me", planted) == 401

        # Signing in again while signed in replaces the session too.
        again = await login(victim, "alice")
        assert again.status_code == 200
        assert victim.cookies[SESSION_COOKIE] not in (fresh, planted)
        assert await status_with_cookie(services, "/api/v1/me", fresh) == 401
        assert response.json()["csrf_token"] != again.json()["csrf_token"]


async def test_another_site_cannot_sign_a_visitor_in(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "mallory", password=PASSWORD)
    cross_site = {"Sec-Fetch-Site": "cross-site"}
    async with browser(services) as visitor:
        body = {"name": "mallory", "password": PASSWORD}
        refused = await visitor.post("/api/v1/auth/login", json=body, headers=cross_site)
        assert (refused.status_code, error_code(refused)) == (403, "cross_site_request")
        assert SESSION_COOKIE not in visitor.cookies
        body = {"name": "newbie", "password": PASSWORD}
        refused = await visitor.post("/api/v1/auth/register", json=body, headers=cross_site)
        assert refused.status_code == 403
        same = await visitor.post(
            "/api/v1/auth/login",
            json={"name": "mallory", "password": PASSWORD},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert same.status_code == 200


async def test_unsafe_cookie_requests_need_the_csrf_token_and_keys_do_not(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with signed_in(services, "alice") as alice:
        assert (await alice.get("/api/v1/sessions")).status_code == 200
        for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": ""}):
            refused = await alice.post("/api/v1/sessions", json={}, headers=headers)
            assert (refused.status_code, error_code(refused)) == (403, "csrf_failed")
            refused = await alice.post("/v1/chat/completions", json={}, headers=headers)
            assert refused.status_code == 403
        created = await alice.post("/api/v1/sessions", json={"title": "t"}, headers=csrf(alice))
        assert created.status_code == 201, created.text
        listed = await alice.get("/api/v1/sessions")
        assert [s["title"] for s in listed.json()["data"]] == ["t"]
    assert (await client.post("/api/v1/sessions", json={})).status_code == 201


# -- throttling --------------------------------------------------------------------------------


async def end_blocks(services: Services) -> None:
    """Let the blocks run out, as time would (the tests do not wait minutes)."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    async with services.db.transaction() as session:
        await session.execute(update(LoginThrottleRow).values(blocked_until=past))


async def test_repeated_failures_are_refused_for_a_growing_time(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with browser(services) as anonymous:
        for _ in range(4):
            assert (await login(anonymous, "alice", "wrong password!")).status_code == 401
        assert (await login(anonymous, "alice")).status_code == 200  # success clears the count
        for _ in range(5):
            assert (await login(anonymous, "alice", "wrong password!")).status_code == 401

        blocked = await login(anonymous, "alice")  # the right password, but too late
        assert blocked.status_code == 429, blocked.text
        assert 50 <= int(blocked.headers["retry-after"]) <= 60
        assert blocked.json()["error"]["type"] == "rate_limit_error"
        assert "Try again" in blocked.json()["error"]["message"]

        await end_blocks(services)
        assert (await login(anonymous, "alice", "wrong password!")).status_code == 401
        longer = await login(anonymous, "alice")
        assert longer.status_code == 429
        assert 110 <= int(longer.headers["retry-after"]) <= 120

        # Unknown names are throttled the same way, so the answers tell nothing.
        for _ in range(5):
            assert (await login(anonymous, "nobody", "wrong password!")).status_code == 401
        assert (await login(anonymous, "nobody", "wrong password!")).status_code == 429

    throttled = [
        e for e in await audit(client, "auth.login") if e["details"].get("reason") == "throttled"
    ]
    assert {e["details"]["name"] for e in throttled} == {"alice", "nobody"}


async def test_one_address_failing_on_many_accounts_is_refused(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with browser(services) as anonymous:
        for i in range(20):
            response = await login(anonymous, f"guess{i}", "wrong password!")
            assert response.status_code == 401, (i, response.text)
        refused = await login(anonymous, "alice")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0


async def test_an_admin_reset_lifts_the_block(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with browser(services) as anonymous:
        for _ in range(5):
            await login(anonymous, "alice", "wrong password!")
        assert (await login(anonymous, "alice")).status_code == 429
        reset = await client.post(
            "/api/v1/users/alice/password", json={"new_password": "a brand new secret"}
        )
        assert reset.status_code == 204, reset.text
        assert (await login(anonymous, "alice", "a brand new secret")).status_code == 200


# -- passwords ----------------------------------------------------------------------------------


async def test_changing_ones_password_signs_out_the_other_browsers(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with signed_in(services, "alice") as laptop, signed_in(services, "alice") as phone:
        wrong = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": "not my password", "new_password": "new secret 123"},
            headers=csrf(laptop),
        )
        assert (wrong.status_code, wrong.json()["error"]["param"]) == (422, "current_password")
        weak = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "short"},
            headers=csrf(laptop),
        )
        assert (weak.status_code, weak.json()["error"]["param"]) == (422, "new_password")
        no_csrf = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "new secret 123"},
        )
        assert no_csrf.status_code == 403
        assert (await phone.get("/api/v1/me")).status_code == 200

        changed = await laptop.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "new secret 123"},
            headers=csrf(laptop),
        )
        assert changed.status_code == 204, changed.text
        assert (await laptop.get("/api/v1/me")).status_code == 200
        assert (await phone.get("/api/v1/me")).status_code == 401
    async with browser(services) as anonymous:
        assert (await login(anonymous, "alice")).status_code == 401
        assert (await login(anonymous, "alice", "new secret 123")).status_code == 200
    events = await audit(client, "auth.password_changed")
    assert [e["outcome"] for e in events] == ["success", "failure"]
    assert events[0]["details"] == {"other_sessions_ended": 1}


async def test_a_user_without_a_password_sets_one_with_their_key(
    services: Services, client: httpx.AsyncClient
) -> None:
    key = await new_user_key(client, "bob")
    async with asgi_client(services, key) as bob, browser(services) as anonymous:
        assert (await login(anonymous, "bob", "bobs new password")).status_code == 401
        set_ = await bob.post("/api/v1/auth/password", json={"new_password": "bobs new password"})
        assert set_.status_code == 204, set_.text
        assert (await login(anonymous, "bob", "bobs new password")).status_code == 200
        # Now that there is one, changing it needs it.
        again = await bob.post("/api/v1/auth/password", json={"new_password": "another one!"})
        assert again.status_code == 422


async def test_an_admin_reset_signs_the_user_out_everywhere(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with signed_in(services, "alice") as alice:
        short = await client.post("/api/v1/users/alice/password", json={"new_password": "x"})
        assert (short.status_code, short.json()["error"]["param"]) == (422, "new_password")
        assert (await alice.get("/api/v1/me")).status_code == 200
        reset = await client.post(
            "/api/v1/users/alice/password", json={"new_password": "reset by admin"}
        )
        assert reset.status_code == 204
        assert (await alice.get("/api/v1/me")).status_code == 401
        assert (await login(alice, "alice")).status_code == 401
        assert (await login(alice, "alice", "reset by admin")).status_code == 200
        unknown = await client.post(
            "/api/v1/users/nobody/password", json={"new_password": "reset by admin"}
        )
        assert unknown.status_code == 404
        refused = await alice.post(
            "/api/v1/users/admin/password",
            json={"new_password": "taking over!"},
            headers=csrf(alice),
        )
        assert refused.status_code == 403
    events = await audit(client, "user.password_reset")
    assert [e["details"]["sessions_ended"] for e in events] == [1]


# -- admins managing users ------------------------------------------------------------------------


async def test_disabling_a_user_stops_their_keys_and_sessions_at_once(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    key = (await client.post("/api/v1/keys", json={"user": "alice"})).json()["key"]
    async with signed_in(services, "alice") as browser_, asgi_client(services, key) as api:
        assert (await api.get("/api/v1/me")).status_code == 200  # cached now
        assert (await browser_.get("/api/v1/me")).status_code == 200

        disabled = await client.patch("/api/v1/users/alice", json={"disabled": True})
        assert (disabled.status_code, disabled.json()["disabled"]) == (200, True)
        assert (await api.get("/api/v1/me")).status_code == 401
        assert (await browser_.get("/api/v1/me")).status_code == 401
        refused = await login(browser_, "alice")
        assert (refused.status_code, error_code(refused)) == (401, "user_disabled")

        enabled = await client.patch("/api/v1/users/alice", json={"disabled": False})
        assert enabled.json()["disabled"] is False
        assert (await api.get("/api/v1/me")).status_code == 200
        assert (await browser_.get("/api/v1/me")).status_code == 401  # still signed out
        assert (await login(browser_, "alice")).status_code == 200

    actions = [e["action"] for e in await audit(client, "user.*")]
    assert actions[:2] == ["user.enabled", "user.disabled"]


async def test_admins_change_roles_and_profile_fields(
    services: Services, client: httpx.AsyncClient
) -> None:
    await create_user(client, "alice", password=PASSWORD)
    async with signed_in(services, "alice") as alice:
        assert (await alice.get("/api/v1/users")).status_code == 403
        promoted = await client.patch(
            "/api/v1/users/alice",
            json={"roles": ["admin"], "display_name": "Alice A.", "email": "a@example.com"},
        )
        assert promoted.status_code == 200, promoted.text
        body = promoted.json()
        assert (body["roles"], body["display_name"], body["email"]) == (
            ["admin"],
            "Alice A.",
            "a@example.com",
        )
        assert (await alice.get("/api/v1/users")).status_code == 200  # at once
        cleared = await client.patch("/api/v1/users/alice", json={"display_name": None})
        assert cleared.json()["display_name"] is None
        assert cleared.json()["roles"] == ["admin"]  # fields left out keep their value

        for body, param in [
            ({"roles": ["root"]}, "roles.0"),
            ({"roles": []}, "roles"),
            ({"disabled": None}, "disabled"),
            ({"disabled": "sometimes"}, "disabled"),
            ({"password": "sneaky one"}, "password"),
        ]:
            bad = await client.patch("/api/v1/users/alice", json=body)
            assert (bad.status_code, bad.json()["error"]["param"]) == (422, param), body
        assert (await client.patch("/api/v1/users/nobody", json={})).status_code == 404
    changes = await audit(client, "user.roles_changed")
    assert [(e["details"]["from"], e["details"]["to"]) for e in changes] == [(["user"], ["admin"])]


async def test_the_last_admin_cannot_be_disabled_demoted_or_deleted(
    services: Services, client: httpx.AsyncClient
) -> None:
    async with browser(services) as alice:
        assert (await register(alice, "alice")).json()["user"]["roles"] == ["admin"]
        bootstrap = await alice.delete("/api/v1/users/admin", headers=csrf(alice))
        assert bootstrap.status_code == 409
        # Two admins: either may go. Alice disables the bootstrap admin...
        off = await alice.patch("/api/v1/users/admin", json={"disabled": True}, headers=csrf(alice))
        assert off.status_code == 200, off.text
        assert (await client.get("/api/v1/me")).status_code == 401
        # ...and is now the last one.
        for body in ({"disabled": True}, {"roles": ["user"]}):
            refused = await alice.patch("/api/v1/users/alice", json=body, headers=csrf(alice))
            assert (refused.status_code, error_code(refused)) == (409, "last_admin"), body
            assert "last admin" in refused.json()["error"]["message"]
        myself = await alice.delete("/api/v1/users/alice", headers=csrf(alice))
        assert myself.status_code == 409
        assert (await alice.get("/api/v1/me")).json()["roles"] == ["admin"]
        # Other changes to the last admin are fine.
        renamed = await alice.patch(
            "/api/v1/users/alice", json={"display_name": "Boss"}, headers=csrf(alice)
        )
        assert renamed.status_code == 200


async def chat_titles(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/api/v1/sessions", params={"limit": 100})
    assert response.status_code == 200, response.text
    return sorted(s["title"] for s in response.json()["data"])


async def test_deleting_a_user_hands_their_chats_over(
    services: Services, client: httpx.AsyncClient
) -> None:
    bob_key = await new_user_key(client, "bob")
    carol_key = await new_user_key(client, "carol")
    async with asgi_client(services, bob_key) as bob, asgi_client(services, carol_key) as carol:
        for title in ("plans", "notes"):
            assert (await bob.post("/api/v1/sessions", json={"title": title})).status_code == 201
        await carol.post("/api/v1/sessions", json={"title": "carol's"})

        to_self = await client.delete("/api/v1/users/bob", params={"transfer_to": "bob"})
        assert to_self.status_code == 422
        to_nobody = await client.delete("/api/v1/users/bob", params={"transfer_to": "nobody"})
        assert (to_nobody.status_code, to_nobody.json()["error"]["param"]) == (404, "transfer_to")
        assert await chat_titles(bob) == ["notes", "plans"]  # nothing half-done

        deleted = await client.delete("/api/v1/users/bob", params={"transfer_to": "carol"})
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["chat_sessions"] == 2
        assert await chat_titles(carol) == ["carol's", "notes", "plans"]
        assert (await bob.get("/api/v1/me")).status_code == 401
    assert (await client.get("/api/v1/users/bob")).status_code == 404
    assert (await client.delete("/api/v1/users/bob")).status_code == 404
    # The name is free again, and the new bob sees nothing of the old one.
    new_bob = await new_user_key(client, "bob")
    async with asgi_client(services, new_bob) as bob:
        assert await chat_titles(bob) == []
    events = await audit(client, "user.deleted")
    assert events[0]["details"]["transferred_to"] is not None


async def test_the_heir_takes_over_the_organizations_the_deleted_user_owned(
    services: Services, client: httpx.AsyncClient
) -> None:
    async with browser(services) as alice, browser(services) as bob:
        await register(alice, "alice")  # the first: an admin, and owner of "default"
        await register(bob, "bob")
        promoted = await client.patch("/api/v1/users/bob", json={"roles": ["admin"]})
        assert promoted.status_code == 200
        deleted = await bob.delete(
            "/api/v1/users/alice", params={"transfer_to": "bob"}, headers=csrf(bob)
        )
        assert deleted.status_code == 200, deleted.text
        members = await client.get("/api/v1/orgs/default/members")
        assert members.status_code == 200, members.text
        roles = {m["name"]: m["role"] for m in members.json()}
        assert roles["bob"] == "owner" and "alice" not in roles
    events = await audit(client, "user.deleted")
    assert len(events[0]["details"]["organizations_handed_over"]) == 1


async def test_deleting_a_user_without_a_hand_over_deletes_their_data(
    services: Services, client: httpx.AsyncClient
) -> None:
    bob_key = await new_user_key(client, "bob")
    await client.patch("/api/v1/users/bob", json={"roles": ["admin"]})
    async with asgi_client(services, bob_key) as bob:
        created = await bob.post("/api/v1/sessions", json={"title": "secret plans"})
        session_id = created.json()["id"]
        await bob.post(
            f"/api/v1/sessions/{session_id}/messages", json={"content": "hi", "stream": False}
        )
        assert (await bob.post("/api/v1/keys", json={"name": "second"})).status_code == 201

        deleted = await client.delete("/api/v1/users/bob")
        assert deleted.status_code == 200, deleted.text
        assert (deleted.json()["transferred_to"], deleted.json()["chat_sessions"]) == (None, 1)
        assert (await bob.get("/api/v1/sessions")).status_code == 401
    assert await chat_titles(client) == []
    keys = (await client.get("/api/v1/keys", params={"user": "admin"})).json()
    assert [k["name"] for k in keys] == ["bootstrap"]
    refused = await client.delete("/api/v1/users/admin")
    assert refused.status_code == 409


async def test_admins_create_users_with_a_password(
    services: Services, client: httpx.AsyncClient
) -> None:
    short = await client.post("/api/v1/users", json={"name": "dave", "password": "short"})
    assert short.status_code == 422
    user = await create_user(client, "dave", password="daves password", display_name="Dave")
    assert (user["has_password"], user["display_name"], user["source"]) == (True, "Dave", "admin")
    async with browser(services) as dave:
        assert (await login(dave, "dave", "daves password")).status_code == 200
        listed = (await client.get("/api/v1/users/dave")).json()
        assert listed["last_login_at"] is not None
    created = await audit(client, "user.created")
    assert created[0]["details"] == {"name": "dave", "roles": ["user"], "password": True}


async def test_user_management_needs_an_admin(
    services: Services, client: httpx.AsyncClient
) -> None:
    key = await new_user_key(client, "bob")
    async with asgi_client(services, key) as bob:
        for method, path, body in [
            ("PATCH", "/api/v1/users/bob", {"roles": ["admin"]}),
            ("DELETE", "/api/v1/users/admin", None),
            ("POST", "/api/v1/users/admin/password", {"new_password": "taking over!"}),
            ("GET", "/api/v1/settings", None),
        ]:
            response = await bob.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.text)
    assert (await client.get("/api/v1/users/bob")).json()["roles"] == ["user"]


# -- on PostgreSQL too -------------------------------------------------------------------------


@pytest.fixture
async def pg_services(tmp_path: Path, postgres_url: str) -> AsyncIterator[Services]:
    settings: Settings = make_settings(tmp_path, database_url=postgres_url)
    async with build_services(settings) as built:
        yield built


@pytest.mark.postgres
async def test_accounts_on_postgresql(pg_services: Services) -> None:
    services = pg_services
    async with asgi_client(services) as admin, browser(services) as alice:
        assert (await register(alice, "alice", email="Alice@Example.com")).status_code == 201
        assert (await register(alice, "alice")).status_code == 409
        assert (await login(alice, "ALICE@example.com")).status_code == 200
        for _ in range(5):
            await login(alice, "alice", "wrong password!")
        assert (await login(alice, "alice")).status_code == 429
        await create_user(admin, "carol")
        await alice.post("/api/v1/sessions", json={"title": "t"}, headers=csrf(alice))
        await admin.patch("/api/v1/users/admin", json={"disabled": False})
        deleted = await admin.delete("/api/v1/users/alice", params={"transfer_to": "carol"})
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["chat_sessions"] == 1


async def _race_to_register(services: Services) -> list[list[str]]:
    async def one(index: int) -> list[str]:
        async with browser(services) as client:
            response = await register(client, f"racer{index}")
            assert response.status_code == 201, response.text
            return list(response.json()["user"]["roles"])

    return await asyncio.gather(*(one(i) for i in range(6)))


async def test_of_people_registering_at_once_exactly_one_becomes_admin(
    services: Services,
) -> None:
    roles = await _race_to_register(services)
    assert sorted(r[0] for r in roles) == ["admin"] + ["user"] * 5


@pytest.mark.postgres
async def test_of_people_registering_at_once_one_is_admin_on_postgresql(
    pg_services: Services,
) -> None:
    roles = await _race_to_register(pg_services)
    assert sorted(r[0] for r in roles) == ["admin"] + ["user"] * 5


async def test_one_address_cannot_create_accounts_without_end(services: Services) -> None:
    async with browser(services) as client:
        for index in range(10):
            response = await register(client, f"newcomer{index}")
            assert response.status_code == 201, response.text
        refused = await register(client, "one-too-many")
        assert refused.status_code == 429
        assert refused.json()["error"]["type"] == "rate_limit_error"
        assert int(refused.headers["retry-after"]) > 0
    async with asgi_client(services) as admin:
        names = {u["name"] for u in (await admin.get("/api/v1/users")).json()}
    assert "one-too-many" not in names


@pytest.mark.postgres
async def test_failed_sign_ins_at_once_are_all_counted_on_postgresql(
    pg_services: Services,
) -> None:
    async with browser(pg_services) as client:
        assert (await register(client, "zed")).status_code == 201
    async with browser(pg_services) as client:
        answers = await asyncio.gather(*(login(client, "zed", "wrong password!") for _ in range(8)))
        assert all(a.status_code in (401, 429) for a in answers), [a.text for a in answers]
        assert (await login(client, "zed")).status_code == 429
