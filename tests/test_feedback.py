"""Feedback on answers over the REST API and the CLI: thumbs up or down with a comment, who
may rate, and who sees the ratings (with the conversation) to turn them into eval cases.

The API tests run on SQLite and on PostgreSQL, against a real fake upstream on a socket.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.services.container import Services
from homeport.settings import Settings
from homeport.testing import FakeOpenAI
from tests.conftest import (
    ADMIN_KEY,
    asgi_client,
    live_server,
    make_settings,
    new_user_key,
    run_homeport,
)
from tests.test_apps import apply
from tests.test_sessions import MODEL, assert_error, get_session, new_session, say

SUPPORT = {
    "name": "Support",
    "assistants": [{"model": MODEL, "system_prompt": "You answer support questions."}],
}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
async def model(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> str:
    response = await client.post(
        "/api/v1/providers",
        json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
    )
    assert response.status_code == 201, response.text
    return MODEL


sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def feedback_path(session_id: str, message_id: str) -> str:
    return f"/api/v1/sessions/{session_id}/messages/{message_id}/feedback"


async def rate(
    client: httpx.AsyncClient, turn: dict[str, Any], rating: str, comment: str | None = None
) -> httpx.Response:
    path = feedback_path(turn["session_id"], turn["assistant_message"]["id"])
    return await client.put(path, json={"rating": rating, "comment": comment})


async def listed(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/feedback", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


# -- rating --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_rate_rate_again_and_remove_a_rating(client: httpx.AsyncClient, model: str) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "Where is my parcel?")
    answer_id = turn["assistant_message"]["id"]

    first = await rate(client, turn, "up")
    assert first.status_code == 200, first.text
    rated = first.json()
    assert (rated["rating"], rated["comment"], rated["model"], rated["app"]) == (
        "up",
        None,
        MODEL,
        None,
    )
    assert (rated["message_id"], rated["session_id"]) == (answer_id, session["id"])

    again = await rate(client, turn, "down", "  It did not say where.  ")
    assert again.status_code == 200, again.text
    replaced = again.json()
    assert (replaced["id"], replaced["created_at"]) == (rated["id"], rated["created_at"])
    assert (replaced["rating"], replaced["comment"]) == ("down", "It did not say where.")

    # The UI shows the rating after a reload: the session carries it on the answer.
    user_message, answer = (await get_session(client, session["id"]))["messages"]
    assert user_message["feedback"] is None
    assert answer["feedback"]["rating"] == "down"
    assert answer["feedback"]["comment"] == "It did not say where."

    [entry] = await listed(client)
    assert entry["id"] == rated["id"]
    assert entry["conversation"] == [
        {"role": "user", "content": "Where is my parcel?"},
        {"role": "assistant", "content": "echo: Where is my parcel?"},
    ]

    removed = await client.delete(feedback_path(session["id"], answer_id))
    assert removed.status_code == 204 and removed.content == b""
    assert (await get_session(client, session["id"]))["messages"][1]["feedback"] is None
    assert await listed(client) == []
    again_removed = await client.delete(feedback_path(session["id"], answer_id))
    assert_error(again_removed, 404, "not_found_error", param="message_id")


@pytest.mark.anyio
async def test_only_answers_in_ones_own_sessions_are_rated(
    services: Services, client: httpx.AsyncClient, model: str
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "hello")

    question = await client.put(
        feedback_path(session["id"], turn["user_message"]["id"]), json={"rating": "down"}
    )
    assert_error(question, 400, "invalid_request_error", param="message_id")
    assert "only answers can be rated" in question.json()["error"]["message"]
    unknown = await client.put(feedback_path(session["id"], "msg_nope"), json={"rating": "up"})
    assert_error(unknown, 404, "not_found_error", param="message_id")

    async with asgi_client(services, await new_user_key(client, "mallory")) as mallory:
        # Someone else's session is not found, exactly as the sessions API says.
        theirs = await mallory.get(f"/api/v1/sessions/{session['id']}")
        rating = await rate(mallory, turn, "down", "spam")
        assert_error(rating, 404, "not_found_error", param="session_id")
        assert rating.json() == theirs.json()
        path = feedback_path(session["id"], turn["assistant_message"]["id"])
        assert (await mallory.delete(path)).json() == theirs.json()
        assert await listed(mallory) == []
    assert await listed(client) == []


@pytest.mark.anyio
async def test_rating_at_the_same_time_leaves_one_rating(
    client: httpx.AsyncClient, model: str
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "hello")
    ratings = ["up", "down"] * 5
    responses = await asyncio.gather(*(rate(client, turn, r, f"take {r}") for r in ratings))
    assert [r.status_code for r in responses] == [200] * len(ratings), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    [entry] = await listed(client)
    answer = (await get_session(client, session["id"]))["messages"][1]
    assert answer["feedback"]["rating"] == entry["rating"]
    assert entry["comment"] == f"take {entry['rating']}"


@sqlite_only
@pytest.mark.anyio
async def test_bad_bodies_are_refused_in_the_error_format(
    client: httpx.AsyncClient, model: str
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "hello")
    path = feedback_path(session["id"], turn["assistant_message"]["id"])

    too_long = await client.put(path, json={"rating": "down", "comment": "x" * 2001})
    assert_error(too_long, 400, "invalid_request_error", param="comment")
    assert "2000" in too_long.json()["error"]["message"]
    assert (await client.put(path, json={"rating": "down", "comment": "x" * 2000})).is_success

    malformed = await client.put(
        path, content=b'{"rating": "down",', headers={"content-type": "application/json"}
    )
    assert_error(malformed, 400, "invalid_request_error", code="invalid_json")
    unknown_rating = await client.put(path, json={"rating": "meh"})
    assert_error(unknown_rating, 422, "invalid_request_error", param="rating")
    extra = await client.put(path, json={"rating": "up", "stars": 5})
    assert_error(extra, 422, "invalid_request_error", param="stars")
    assert (await get_session(client, session["id"]))["messages"][1]["feedback"]["comment"] == (
        "x" * 2000
    )


# -- who sees feedback ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_apps_editors_see_every_users_feedback_on_it_with_the_conversation(
    services: Services, client: httpx.AsyncClient, model: str
) -> None:
    keys = {name: await new_user_key(client, name) for name in ("builder", "ada", "bob", "cy")}
    users = {name: asgi_client(services, key) for name, key in keys.items()}
    builder, ada, bob, cy = users.values()
    try:
        await apply(builder, "support", SUPPORT)
        # Publishing is for admins: anyone may use the app then.
        published = await client.post("/api/v1/apps/support/publish", json={"published": True})
        assert published.status_code == 200, published.text
        granted = await builder.post(
            "/api/v1/sharing/app/support",
            json={"subject_type": "user", "subject": "cy", "permission": "edit"},
        )
        assert granted.status_code == 201, granted.text

        chat = await new_session(ada, model="app/support")
        await say(ada, chat["id"], "My order is late.")
        second = await say(ada, chat["id"], "It is order 42.")
        assert (await rate(ada, second, "down", "It ignored the order number.")).is_success
        other = await new_session(bob, model="app/support")
        assert (await rate(bob, await say(bob, other["id"], "Thanks!"), "up")).is_success
        plain = await new_session(ada, model=model)
        assert (await rate(ada, await say(ada, plain["id"], "Hi"), "down")).is_success

        # Everyone sees their own feedback, and only theirs.
        assert [e["app"] for e in await listed(ada)] == [None, "support"]
        bob_id = (await bob.get("/api/v1/me")).json()["id"]
        assert [e["user_id"] for e in await listed(bob)] == [bob_id]

        # The app's owner and a user granted edit see everyone's on the app, newest first.
        for editor in (builder, cy):
            entries = await listed(editor, app="support")
            assert [(e["rating"], e["app"]) for e in entries] == [
                ("up", "support"),
                ("down", "support"),
            ]
        [down] = await listed(cy, app="support", rating="down")
        assert (down["model"], down["app"], down["app_version"]) == ("app/support", "support", 1)
        assert down["comment"] == "It ignored the order number."
        assert down["message_id"] == second["assistant_message"]["id"]
        assert down["conversation"] == [
            {"role": "user", "content": "My order is late."},
            {"role": "assistant", "content": "echo: My order is late."},
            {"role": "user", "content": "It is order 42."},
            {"role": "assistant", "content": "echo: It is order 42."},
        ]
        assert len(await listed(builder, app="support", limit=1)) == 1

        # One who only uses the app is refused; an app one cannot see is not found.
        assert_error(
            await bob.get("/api/v1/feedback", params={"app": "support"}), 403, "permission_error"
        )
        assert_error(
            await bob.get("/api/v1/feedback", params={"app": "nope"}),
            404,
            "not_found_error",
            param="name",
        )
        # Platform admins see everyone's.
        assert len(await listed(client)) == 3

        # A new app of the same name does not get the old one's feedback.
        assert (await builder.delete("/api/v1/apps/support")).status_code == 204
        await apply(cy, "support", SUPPORT)
        assert await listed(cy, app="support") == []
    finally:
        for user in users.values():
            await user.aclose()


@pytest.mark.anyio
async def test_feedback_goes_with_the_session(client: httpx.AsyncClient, model: str) -> None:
    session = await new_session(client, model=model)
    assert (await rate(client, await say(client, session["id"], "hello"), "up")).is_success
    assert (await client.delete(f"/api/v1/sessions/{session['id']}")).status_code == 204
    assert await listed(client) == []


# -- the command line --------------------------------------------------------------------------


@pytest.mark.slow
def test_feedback_list_on_the_command_line(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    server = live_server(tmp_path)
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
        ) as http:
            base_url = fake_openai.base_url  # type: ignore[attr-defined]
            added = http.post("/api/v1/providers", json={"name": "up", "base_url": base_url})
            assert added.status_code == 201, added.text
            session = http.post("/api/v1/sessions", json={"model": MODEL}).json()
            for question, rating in (("Good one?", "up"), ("Bad one?", "down")):
                turn = http.post(
                    f"/api/v1/sessions/{session['id']}/messages",
                    json={"content": question, "stream": False},
                ).json()
                path = feedback_path(session["id"], turn["assistant_message"]["id"])
                put = http.put(path, json={"rating": rating, "comment": f"{rating} vote"})
                assert put.status_code == 200, put.text

        shown = run_homeport(server, tmp_path, "feedback", "list", "--rating", "down")
        assert shown.returncode == 0, shown.stderr
        assert "down vote" in shown.stdout and "Bad one?" in shown.stdout
        assert "up vote" not in shown.stdout

        as_json = run_homeport(server, tmp_path, "feedback", "list", "--json", "--limit", "1")
        assert as_json.returncode == 0, as_json.stderr
        [entry] = json.loads(as_json.stdout)
        assert entry["rating"] == "down" and entry["conversation"][-1]["role"] == "assistant"

        unknown = run_homeport(server, tmp_path, "feedback", "list", "--app", "nope")
        assert unknown.returncode != 0 and "no app 'nope'" in unknown.stderr
    finally:
        server.stop()
