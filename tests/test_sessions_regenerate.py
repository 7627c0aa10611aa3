"""Regenerating a session's latest answer, and searching sessions, over the REST API.

Every test runs on SQLite and on PostgreSQL, against a real fake upstream on a socket.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.settings import Settings
from homeport.testing import Disconnect, Failure, FakeOpenAI, Reply
from tests.conftest import asgi_client, make_settings, new_user_key
from tests.test_sessions import (
    MODEL,
    assert_error,
    get_session,
    new_session,
    say,
    sse_chunks,
    streamed_text,
)

pytestmark = pytest.mark.anyio

OTHER_MODEL = "up/org/fake-chat-2"


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


def regenerate_path(session_id: str, message_id: str) -> str:
    return f"/api/v1/sessions/{session_id}/messages/{message_id}/regenerate"


async def regenerate(
    client: httpx.AsyncClient, turn: dict[str, Any], **body: Any
) -> httpx.Response:
    path = regenerate_path(turn["session_id"], turn["assistant_message"]["id"])
    return await client.post(path, json=body)


def shown(messages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(m["role"], m["content"], m["status"]) for m in messages]


# -- regenerate ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "non-streamed"])
async def test_regenerating_replaces_the_latest_answer_and_keeps_its_feedback(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI, stream: bool
) -> None:
    session = await new_session(client, model=model, system_prompt="Be brief.")
    await say(client, session["id"], "first question")
    fake_openai.enqueue("a bad answer")
    turn = await say(client, session["id"], "Where is Lisbon?")
    old = turn["assistant_message"]
    rated = await client.put(
        f"/api/v1/sessions/{session['id']}/messages/{old['id']}/feedback",
        json={"rating": "down", "comment": "wrong"},
    )
    assert rated.status_code == 200, rated.text

    fake_openai.enqueue("In Portugal.")
    response = await regenerate(client, turn, stream=stream)
    assert response.status_code == 200, response.text
    if stream:
        chunks = sse_chunks(response)
        assert streamed_text(chunks) == "In Portugal."
        result = chunks[-1]["homeport"]
    else:
        result = response.json()
    assert result["session_id"] == session["id"]
    assert result["model"] == model
    assert result["user_message"] == turn["user_message"]
    new = result["assistant_message"]
    assert (new["content"], new["status"], new["reply_to"]) == (
        "In Portugal.",
        "complete",
        turn["user_message"]["id"],
    )
    assert new["id"] != old["id"]

    # The model saw the conversation before the question, not the old answer.
    assert fake_openai.requests[-1].json["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "echo: first question"},
        {"role": "user", "content": "Where is Lisbon?"},
    ]
    stored = (await get_session(client, session["id"]))["messages"]
    assert shown(stored)[2:] == [
        ("user", "Where is Lisbon?", "complete"),
        ("assistant", "a bad answer", "replaced"),
        ("assistant", "In Portugal.", "complete"),
    ]
    # The rating stays with the answer it was given to, not the new one.
    assert stored[3]["feedback"]["rating"] == "down"
    assert stored[4]["feedback"] is None
    assert stored[4] == {**new, "feedback": None}

    # The next turn builds on the new answer only.
    await say(client, session["id"], "And Porto?")
    sent = [m["content"] for m in fake_openai.requests[-1].json["messages"]]  # type: ignore[index]
    assert sent[-3:] == ["Where is Lisbon?", "In Portugal.", "And Porto?"]
    assert "a bad answer" not in sent


async def test_regenerating_keeps_the_old_answers_model_unless_another_is_given(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "hello", model=OTHER_MODEL)
    again = await regenerate(client, turn, stream=False, temperature=0.5)
    assert again.status_code == 200, again.text
    assert again.json()["assistant_message"]["model"] == OTHER_MODEL
    assert fake_openai.requests[-1].json["model"] == "org/fake-chat-2"
    assert fake_openai.requests[-1].json["temperature"] == 0.5

    third = await regenerate(client, again.json(), stream=False, model=model)
    assert third.status_code == 200, third.text
    assert third.json()["assistant_message"]["model"] == model
    assert fake_openai.requests[-1].json["model"] == "fake-chat"


async def test_only_the_latest_answer_of_ones_own_session_can_be_regenerated(
    client: httpx.AsyncClient, services: Any, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    first = await say(client, session["id"], "one")
    second = await say(client, session["id"], "two")
    sent_before = len(fake_openai.requests)

    earlier = await regenerate(client, first, stream=False)
    assert_error(earlier, 400, "invalid_request_error", code="not_the_latest_answer")
    assert "latest answer" in earlier.json()["error"]["message"]
    question = await client.post(
        regenerate_path(session["id"], second["user_message"]["id"]), json={"stream": False}
    )
    assert_error(question, 400, "invalid_request_error", code="not_an_answer")
    unknown = await client.post(regenerate_path(session["id"], "msg_nope"), json={})
    assert_error(unknown, 404, "not_found_error", param="message_id")
    bad = await regenerate(client, second, stream=False, content="not here")
    assert_error(bad, 422, "invalid_request_error", param="content")

    async with asgi_client(services, await new_user_key(client, "bob")) as bob:
        for stream in (True, False):
            theirs = await regenerate(bob, second, stream=stream)
            assert_error(theirs, 404, "not_found_error", param="session_id")
    assert len(fake_openai.requests) == sent_before

    replaced = await regenerate(client, second, stream=False)
    assert replaced.status_code == 200, replaced.text
    again = await regenerate(client, second, stream=False)
    assert_error(again, 400, "invalid_request_error", code="not_the_latest_answer")
    assert "replaced" in again.json()["error"]["message"]
    stored = (await get_session(client, session["id"]))["messages"]
    assert [m["status"] for m in stored] == ["complete"] * 3 + ["replaced", "complete"]


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "non-streamed"])
@pytest.mark.parametrize("failure", [Failure(500, "the GPU melted"), Disconnect()])
async def test_a_failed_regeneration_leaves_the_old_answer_in_place(
    client: httpx.AsyncClient,
    model: str,
    fake_openai: FakeOpenAI,
    stream: bool,
    failure: Failure | Disconnect,
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "question")
    before = (await get_session(client, session["id"]))["messages"]

    fake_openai.enqueue(failure)
    response = await regenerate(client, turn, stream=stream)
    assert response.status_code >= 500, response.text
    assert (await get_session(client, session["id"]))["messages"] == before

    # The old answer can still be regenerated.
    retried = await regenerate(client, turn, stream=False)
    assert retried.status_code == 200, retried.text
    assert shown((await get_session(client, session["id"]))["messages"]) == [
        ("user", "question", "complete"),
        ("assistant", "echo: question", "replaced"),
        ("assistant", "echo: question", "complete"),
    ]


async def test_two_regenerations_at_once_leave_one_answer(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "question")
    fake_openai.enqueue(Reply(text="first", delay=0.3), Reply(text="second", delay=0.3))

    responses = await asyncio.gather(
        regenerate(client, turn, stream=False), regenerate(client, turn, stream=True)
    )
    statuses = sorted(r.status_code for r in responses)
    stored = (await get_session(client, session["id"]))["messages"]
    assert shown(stored)[:2] == [
        ("user", "question", "complete"),
        ("assistant", "echo: question", "replaced"),
    ]
    assert len(stored) == 3 and stored[2]["status"] == "complete"
    assert stored[2]["content"] in ("first", "second")
    # The loser hears of it: a 409 before streaming, else an error event at the end.
    non_streamed, streamed = responses
    if non_streamed.status_code == 200:
        assert non_streamed.json()["assistant_message"] == {**stored[2], "feedback": None}
        assert streamed.status_code == 200
        last = json.loads(streamed.text.strip().splitlines()[-1].removeprefix("data: "))
        assert last["error"]["code"] == "already_regenerated"  # an error event ends the stream
    else:
        assert statuses == [200, 409]
        assert_error(non_streamed, 409, "conflict_error", code="already_regenerated")
        assert sse_chunks(streamed)[-1]["homeport"]["assistant_message"]["id"] == stored[2]["id"]


# -- search -------------------------------------------------------------------------------


async def found(client: httpx.AsyncClient, q: str, **params: Any) -> list[str]:
    response = await client.get("/api/v1/sessions", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return [s["title"] for s in response.json()["data"]]


async def test_search_finds_sessions_by_title_and_by_message_case_insensitively(
    client: httpx.AsyncClient, services: Any, model: str, fake_openai: FakeOpenAI
) -> None:
    lisbon = await new_session(client, model=model, title="Trip to Lisbon")
    await say(client, lisbon["id"], "Where should we eat?")
    recipes = await new_session(client, model=model, title="Recipes")
    fake_openai.enqueue("Bacalhau à Brás, from LISBON.")
    await say(client, recipes["id"], "A Portuguese dish?")
    await new_session(client, model=model, title="Taxes")

    assert await found(client, "lisbon") == ["Recipes", "Trip to Lisbon"]
    assert await found(client, "WHERE SHOULD") == ["Trip to Lisbon"]
    assert await found(client, "echo: where") == ["Trip to Lisbon"]
    assert await found(client, "paris") == []
    assert len(await found(client, "")) == 3

    # Paged like the list: newest first, `after` the last id of the previous page.
    page = (await client.get("/api/v1/sessions", params={"q": "lisbon", "limit": 1})).json()
    assert ([s["title"] for s in page["data"]], page["has_more"]) == (["Recipes"], True)
    assert await found(client, "lisbon", after=page["last_id"]) == ["Trip to Lisbon"]

    # Only the caller's sessions.
    async with asgi_client(services, await new_user_key(client, "bob")) as bob:
        await new_session(bob, title="Bob in Lisbon")
        assert await found(bob, "lisbon") == ["Bob in Lisbon"]
    assert await found(client, "lisbon") == ["Recipes", "Trip to Lisbon"]


async def test_search_takes_wildcards_literally_and_skips_replaced_answers(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    await new_session(client, title="100% sure")
    await new_session(client, title="1000 sure")
    await new_session(client, title="snake_case names")
    await new_session(client, title="snakeXcase names")
    await new_session(client, title=r"C:\temp files")
    await new_session(client, title="C:temp files")

    assert await found(client, "%") == ["100% sure"]
    assert await found(client, "0% s") == ["100% sure"]
    assert await found(client, "e_c") == ["snake_case names"]
    assert await found(client, "\\") == [r"C:\temp files"]
    assert await found(client, "\\t") == [r"C:\temp files"]
    assert await found(client, "'; drop table chat_sessions; --") == []
    assert len(await found(client, "")) == 6

    session = await new_session(client, model=model, title="Quiz")
    fake_openai.enqueue("a pineapple")
    turn = await say(client, session["id"], "a fruit?")
    fake_openai.enqueue("a mango")
    assert (await regenerate(client, turn, stream=False)).status_code == 200
    assert await found(client, "mango") == ["Quiz"]
    assert await found(client, "pineapple") == []

    too_long = await client.get("/api/v1/sessions", params={"q": "x" * 201})
    assert_error(too_long, 422, "invalid_request_error", param="q")
