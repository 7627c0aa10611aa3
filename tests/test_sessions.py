"""Chat sessions over the REST API: storing conversations, chatting in them, and who sees what.

Every test runs on SQLite and on PostgreSQL, against a real fake upstream on a socket.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.settings import Settings
from homeport.testing import Failure, FakeOpenAI, Reply
from tests.conftest import ADMIN_KEY, asgi_client, live_server, make_settings, new_user_key

pytestmark = pytest.mark.anyio

MODEL = "up/fake-chat"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
async def model(client: httpx.AsyncClient, fake_openai: FakeOpenAI) -> str:
    """A chat model served by the fake upstream, registered through the API."""
    response = await client.post(
        "/api/v1/providers",
        json={"name": "up", "base_url": fake_openai.base_url},  # type: ignore[attr-defined]
    )
    assert response.status_code == 201, response.text
    assert MODEL in response.json()["models"]
    return MODEL


# For tests whose outcome does not depend on the database: SQLite only, to keep the suite fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def new_session(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/sessions", json=fields)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def get_session(client: httpx.AsyncClient, session_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/sessions/{session_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def say(
    client: httpx.AsyncClient, session_id: str, content: str, **extra: Any
) -> dict[str, Any]:
    """A non-streamed turn that must succeed."""
    response = await client.post(
        f"/api/v1/sessions/{session_id}/messages",
        json={"content": content, "stream": False, **extra},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def sse_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in response.text.splitlines() if line]
    assert all(line.startswith("data: ") for line in lines), lines
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(
        choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
    )


def assert_error(response: httpx.Response, status: int, kind: str, **fields: Any) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == kind
    assert error["message"]
    for name, value in fields.items():
        assert error[name] == value, error


# -- the session resource -------------------------------------------------------------------


async def test_create_get_rename_and_delete_a_session(client: httpx.AsyncClient) -> None:
    created = await new_session(
        client, title="Trip to Lisbon", model=MODEL, system_prompt="Be brief."
    )
    assert created["id"].startswith("sess_")
    assert (created["title"], created["model"], created["system_prompt"]) == (
        "Trip to Lisbon",
        MODEL,
        "Be brief.",
    )

    fetched = await get_session(client, created["id"])
    assert fetched["messages"] == []
    assert {k: fetched[k] for k in ("id", "title", "model", "system_prompt", "created_at")} == {
        k: created[k] for k in ("id", "title", "model", "system_prompt", "created_at")
    }

    renamed = await client.patch(f"/api/v1/sessions/{created['id']}", json={"title": "  Porto  "})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["title"] == "Porto"
    assert renamed.json()["model"] == MODEL
    assert (await get_session(client, created["id"]))["title"] == "Porto"

    blank = await client.patch(f"/api/v1/sessions/{created['id']}", json={"title": "   "})
    assert_error(blank, 422, "invalid_request_error", param="title")
    assert (await get_session(client, created["id"]))["title"] == "Porto"

    deleted = await client.delete(f"/api/v1/sessions/{created['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(f"/api/v1/sessions/{created['id']}")
    assert_error(gone, 404, "not_found_error", param="session_id")
    again = await client.delete(f"/api/v1/sessions/{created['id']}")
    assert_error(again, 404, "not_found_error")


@sqlite_only
async def test_a_session_without_a_title_is_called_new_chat(client: httpx.AsyncClient) -> None:
    created = await new_session(client)
    assert created["title"] == "New chat"
    assert created["model"] is None and created["system_prompt"] is None
    assert (await new_session(client, title=None))["title"] == "New chat"


@sqlite_only
async def test_a_blank_title_counts_as_no_title(client: httpx.AsyncClient, model: str) -> None:
    session = await new_session(client, model=model, title="   ")
    assert session["title"] == "New chat"
    await say(client, session["id"], "Where is Madeira?")
    assert (await get_session(client, session["id"]))["title"] == "Where is Madeira?"


async def test_deleting_a_session_deletes_its_messages(
    client: httpx.AsyncClient, model: str
) -> None:
    session = await new_session(client, model=model)
    await say(client, session["id"], "remember me")
    assert (await client.delete(f"/api/v1/sessions/{session['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/sessions/{session['id']}")).status_code == 404
    chat = await client.post(
        f"/api/v1/sessions/{session['id']}/messages", json={"content": "hello?"}
    )
    assert_error(chat, 404, "not_found_error")


async def test_sessions_are_listed_newest_first_in_pages(client: httpx.AsyncClient) -> None:
    empty = await client.get("/api/v1/sessions")
    assert empty.status_code == 200
    assert empty.json() == {"object": "list", "data": [], "has_more": False, "last_id": None}

    ids = [(await new_session(client, title=f"chat {i}"))["id"] for i in range(5)]
    newest_first = ids[::-1]

    everything = (await client.get("/api/v1/sessions")).json()
    assert [s["id"] for s in everything["data"]] == newest_first
    assert [s["title"] for s in everything["data"]] == [f"chat {i}" for i in range(4, -1, -1)]
    assert everything["has_more"] is False
    assert everything["last_id"] == ids[0]

    seen: list[str] = []
    pages: list[bool] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        page = (await client.get("/api/v1/sessions", params=params)).json()
        seen += [s["id"] for s in page["data"]]
        pages.append(page["has_more"])
        assert page["last_id"] == page["data"][-1]["id"]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == newest_first
    assert pages == [True, True, False]

    exact = (await client.get("/api/v1/sessions", params={"limit": 5})).json()
    assert len(exact["data"]) == 5 and exact["has_more"] is False


# -- chatting -------------------------------------------------------------------------------


async def test_a_streamed_turn_sends_openai_chunks_and_stores_both_messages(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model, title="Greetings")
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/messages", json={"content": "hello there"}
    )
    assert response.status_code == 200, response.text
    chunks = sse_chunks(response)
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {model}
    assert streamed_text(chunks) == "echo: hello there"
    assert [c for c in chunks if "homeport" in c] == [chunks[-1]]
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"]) == (2, 3)

    extension = chunks[-1]["homeport"]
    assert extension["session_id"] == session["id"]
    stored = (await get_session(client, session["id"]))["messages"]
    assert [m["id"] for m in stored] == [
        extension["user_message"]["id"],
        extension["assistant_message"]["id"],
    ]
    user, assistant = stored
    assert (user["role"], user["content"], user["status"]) == ("user", "hello there", "complete")
    assert (assistant["role"], assistant["content"], assistant["status"]) == (
        "assistant",
        "echo: hello there",
        "complete",
    )
    assert assistant["model"] == model
    assert assistant["error"] is None
    assert (assistant["prompt_tokens"], assistant["completion_tokens"]) == (2, 3)
    assert assistant["finish_reason"] == "stop"
    assert assistant["time_to_first_token_ms"] is not None
    assert 0 <= assistant["time_to_first_token_ms"] <= assistant["duration_ms"]
    assert extension["assistant_message"] == assistant
    assert fake_openai.requests[-1].json["stream"] is True


async def test_a_non_streamed_turn_returns_both_stored_messages(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue("Lisbon is lovely in May.")
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "When should I visit Lisbon?")
    assert turn["session_id"] == session["id"]
    assert turn["model"] == model
    assert turn["user_message"]["content"] == "When should I visit Lisbon?"
    answer = turn["assistant_message"]
    assert (answer["content"], answer["status"], answer["model"]) == (
        "Lisbon is lovely in May.",
        "complete",
        model,
    )
    assert (answer["prompt_tokens"], answer["completion_tokens"]) == (5, 5)
    assert answer["duration_ms"] is not None and answer["duration_ms"] >= 0
    stored = (await get_session(client, session["id"]))["messages"]
    assert stored == [turn["user_message"], turn["assistant_message"]]


@sqlite_only
async def test_the_model_of_a_turn_overrides_the_sessions(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    turn = await say(client, session["id"], "hi", model="up/org/fake-chat-2")
    assert turn["assistant_message"]["model"] == "up/org/fake-chat-2"
    assert fake_openai.requests[-1].json["model"] == "org/fake-chat-2"

    modelless = await new_session(client)
    turn = await say(client, modelless["id"], "hi", model=model)
    assert turn["assistant_message"]["content"] == "echo: hi"


@sqlite_only
async def test_sampling_parameters_reach_the_upstream(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    await say(client, session["id"], "hi", temperature=0.3, max_tokens=7, top_p=0.5, seed=11)
    sent = fake_openai.requests[-1].json
    assert (sent["temperature"], sent["max_tokens"], sent["top_p"], sent["seed"]) == (
        0.3,
        7,
        0.5,
        11,
    )


@sqlite_only
async def test_the_title_comes_from_the_first_message(
    client: httpx.AsyncClient, model: str
) -> None:
    session = await new_session(client, model=model)
    await say(client, session["id"], "  Plan a   week\nin the Azores  ")
    assert (await get_session(client, session["id"]))["title"] == "Plan a week in the Azores"
    await say(client, session["id"], "Something else entirely")
    assert (await get_session(client, session["id"]))["title"] == "Plan a week in the Azores"

    long = await new_session(client, model=model)
    await say(client, long["id"], "word " * 40)
    title = (await get_session(client, long["id"]))["title"]
    assert len(title) <= 60
    assert title.endswith("…")
    assert title.startswith("word word")
    listed = (await client.get("/api/v1/sessions")).json()["data"]
    assert [s["title"] for s in listed] == [title, "Plan a week in the Azores"]

    named = await new_session(client, model=model, title="Keep me")
    await say(client, named["id"], "Not the title")
    assert (await get_session(client, named["id"]))["title"] == "Keep me"


@sqlite_only
async def test_the_history_and_system_prompt_are_sent_on_the_next_turn(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model, system_prompt="You are terse.")
    fake_openai.enqueue("Hi Ana.")
    await say(client, session["id"], "I am Ana.")
    assert fake_openai.requests[-1].json["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "I am Ana."},
    ]
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/messages", json={"content": "Who am I?"}
    )
    assert streamed_text(sse_chunks(response)) == "echo: Who am I?"
    assert fake_openai.requests[-1].json["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "I am Ana."},
        {"role": "assistant", "content": "Hi Ana."},
        {"role": "user", "content": "Who am I?"},
    ]
    await say(client, session["id"], "And now?")
    assert len(fake_openai.requests[-1].json["messages"]) == 6


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "non-streamed"])
async def test_a_failed_generation_is_stored_as_an_error_and_not_replayed(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI, stream: bool
) -> None:
    session = await new_session(client, model=model, system_prompt="Be kind.")
    await say(client, session["id"], "first question")

    fake_openai.enqueue(Failure(500, "the GPU melted"))
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/messages",
        json={"content": "doomed question", "stream": stream},
    )
    assert_error(response, 502, "upstream_error")
    assert "the GPU melted" in response.json()["error"]["message"]

    stored = (await get_session(client, session["id"]))["messages"]
    assert [(m["role"], m["content"], m["status"]) for m in stored] == [
        ("user", "first question", "complete"),
        ("assistant", "echo: first question", "complete"),
        ("user", "doomed question", "complete"),
        ("assistant", "", "error"),
    ]
    assert "the GPU melted" in stored[-1]["error"]
    assert stored[-1]["model"] == model

    turn = await say(client, session["id"], "second question")
    assert turn["assistant_message"]["content"] == "echo: second question"
    assert fake_openai.requests[-1].json["messages"] == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "echo: first question"},
        {"role": "user", "content": "second question"},
    ]


@sqlite_only
@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "non-streamed"])
async def test_a_turn_with_an_unknown_model_stores_nothing(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI, stream: bool
) -> None:
    session = await new_session(client, model="up/no-such-model")
    sent_before = len(fake_openai.requests)
    response = await client.post(
        f"/api/v1/sessions/{session['id']}/messages", json={"content": "hello", "stream": stream}
    )
    assert_error(response, 404, "not_found_error", code="model_not_found", param="model")
    fetched = await get_session(client, session["id"])
    assert fetched["messages"] == []
    assert fetched["title"] == "New chat"
    assert len(fake_openai.requests) == sent_before

    other = await new_session(client, model=model)
    response = await client.post(
        f"/api/v1/sessions/{other['id']}/messages",
        json={"content": "hello", "stream": stream, "model": "nowhere/at-all"},
    )
    assert_error(response, 404, "not_found_error", code="model_not_found")
    assert (await get_session(client, other["id"]))["messages"] == []


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_a_client_leaving_mid_stream_stores_a_cancelled_partial_answer(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    words = [f"word{i}" for i in range(200)]
    full = "echo " + " ".join(words)
    server = live_server(tmp_path)
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
        ) as http:
            base_url = fake_openai.base_url  # type: ignore[attr-defined]
            added = http.post("/api/v1/providers", json={"name": "up", "base_url": base_url})
            assert added.status_code == 201, added.text
            session = http.post("/api/v1/sessions", json={"model": MODEL}).json()
            fake_openai.enqueue(Reply(text=full, token_delay=0.05))

            received = ""
            with http.stream(
                "POST", f"/api/v1/sessions/{session['id']}/messages", json={"content": "go"}
            ) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    if line.startswith("data: {"):
                        chunk = json.loads(line.removeprefix("data: "))
                        received += streamed_text([chunk])
                    if received:
                        break

            def answer() -> dict[str, Any] | None:
                messages = http.get(f"/api/v1/sessions/{session['id']}").json()["messages"]
                return messages[1] if len(messages) == 2 else None

            stored = wait_for(answer)
            assert stored is not None, "the cancelled answer was never stored"
            assert stored["status"] == "cancelled"
            assert stored["content"].startswith(received)
            assert full.startswith(stored["content"])
            assert 0 < len(stored["content"]) < len(full)
            assert wait_for(lambda: fake_openai.cancelled_streams == 1)
            assert wait_for(lambda: fake_openai.active_streams == 0)

            # The cancelled answer is not replayed to the model.
            turn = http.post(
                f"/api/v1/sessions/{session['id']}/messages",
                json={"content": "again", "stream": False},
            )
            assert turn.status_code == 200, turn.text
            assert fake_openai.requests[-1].json["messages"] == [
                {"role": "user", "content": "again"}
            ]
    finally:
        server.stop()


# -- isolation ------------------------------------------------------------------------------


async def test_users_cannot_see_or_touch_each_others_sessions(
    client: httpx.AsyncClient, services: Any, model: str, fake_openai: FakeOpenAI
) -> None:
    async with (
        asgi_client(services, await new_user_key(client, "alice")) as alice,
        asgi_client(services, await new_user_key(client, "bob")) as bob,
    ):
        session = await new_session(alice, model=model, title="Alice's secrets")
        await say(alice, session["id"], "my diary")
        path = f"/api/v1/sessions/{session['id']}"
        sent_before = len(fake_openai.requests)

        attempts = [
            await bob.get(path),
            await bob.patch(path, json={"title": "mine now"}),
            await bob.post(f"{path}/messages", json={"content": "hi", "stream": False}),
            await bob.post(f"{path}/messages", json={"content": "hi"}),
            await bob.delete(path),
            await client.get(path),
        ]
        for response in attempts:
            assert_error(response, 404, "not_found_error")
            assert "Alice" not in response.text
        assert (await bob.get("/api/v1/sessions")).json()["data"] == []
        assert (await client.get("/api/v1/sessions")).json()["data"] == []
        assert len(fake_openai.requests) == sent_before

        unknown = await bob.get("/api/v1/sessions/sess_doesnotexist")
        assert unknown.status_code == 404
        assert unknown.json()["error"]["type"] == attempts[0].json()["error"]["type"]

        mine = await get_session(alice, session["id"])
        assert mine["title"] == "Alice's secrets"
        assert [m["content"] for m in mine["messages"]] == ["my diary", "echo: my diary"]
        assert [s["id"] for s in (await alice.get("/api/v1/sessions")).json()["data"]] == [
            session["id"]
        ]


# -- bad input ------------------------------------------------------------------------------


async def test_bad_input_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    path = f"/api/v1/sessions/{session['id']}/messages"
    sent_before = len(fake_openai.requests)

    for body, param in [
        ({"content": ""}, "content"),
        ({"content": "   \n "}, "content"),
        ({}, "content"),
        ({"content": 5}, "content"),
        ({"content": "hi", "bogus": 1}, "bogus"),
        ({"content": "hi", "temperature": 3}, "temperature"),
        ({"content": "hi", "max_tokens": 0}, "max_tokens"),
    ]:
        response = await client.post(path, json=body)
        assert_error(response, 422, "invalid_request_error", param=param)

    malformed = await client.post(
        path, content=b'{"content": "hi"', headers={"Content-Type": "application/json"}
    )
    assert_error(malformed, 400, "invalid_request_error", code="invalid_json")

    assert len(fake_openai.requests) == sent_before
    fetched = await get_session(client, session["id"])
    assert fetched["messages"] == []
    assert fetched["title"] == "New chat"


@sqlite_only
async def test_bad_session_bodies_and_queries_are_refused(client: httpx.AsyncClient) -> None:
    for body, param in [
        ({"title": "x", "colour": "red"}, "colour"),
        ({"title": "x" * 201}, "title"),
        ({"title": 5}, "title"),
    ]:
        assert_error(
            await client.post("/api/v1/sessions", json=body),
            422,
            "invalid_request_error",
            param=param,
        )
    malformed = await client.post(
        "/api/v1/sessions", content=b"{title:", headers={"Content-Type": "application/json"}
    )
    assert_error(malformed, 400, "invalid_request_error", code="invalid_json")

    session = await new_session(client)
    unknown = await client.patch(f"/api/v1/sessions/{session['id']}", json={"owner": "bob"})
    assert_error(unknown, 422, "invalid_request_error", param="owner")

    for limit in ("0", "101", "-1", "many"):
        response = await client.get("/api/v1/sessions", params={"limit": limit})
        assert_error(response, 422, "invalid_request_error", param="limit")
    assert (await client.get("/api/v1/sessions", params={"limit": 100})).status_code == 200
    assert (await client.get("/api/v1/sessions")).json()["data"][0]["id"] == session["id"]


async def test_a_nul_character_is_never_a_server_error(
    client: httpx.AsyncClient, model: str
) -> None:
    """PostgreSQL cannot store NUL in text; whatever is done about it, it is not a 500."""
    created = await client.post(
        "/api/v1/sessions", json={"title": "a\x00b", "system_prompt": "\x00", "model": model}
    )
    assert created.status_code in (201, 422), created.text
    if created.status_code == 201:
        await get_session(client, created.json()["id"])
    session = await new_session(client, model=model)
    turn = await client.post(
        f"/api/v1/sessions/{session['id']}/messages", json={"content": "a\x00b", "stream": False}
    )
    assert turn.status_code in (200, 422), turn.text
    stored = (await get_session(client, session["id"]))["messages"]
    if turn.status_code == 200:
        assert [(m["role"], m["status"]) for m in stored] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
    else:
        assert stored == []


async def test_junk_ids_and_cursors_are_not_server_errors(client: httpx.AsyncClient) -> None:
    session = await new_session(client)
    for response in [
        await client.get("/api/v1/sessions/sess_a%00b"),
        await client.patch("/api/v1/sessions/sess_a%00b", json={"title": "x"}),
        await client.delete("/api/v1/sessions/sess_a%00b"),
        await client.post("/api/v1/sessions/sess_a%00b/messages", json={"content": "hi"}),
    ]:
        assert_error(response, 404, "not_found_error", param="session_id")
    cursor = await client.get("/api/v1/sessions", params={"after": "sess_a\x00b"})
    assert cursor.status_code == 200, cursor.text
    assert (await get_session(client, session["id"]))["title"] == "New chat"


# -- concurrency ----------------------------------------------------------------------------


async def test_concurrent_turns_in_different_sessions_all_persist(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    sessions = [await new_session(client, model=model) for _ in range(6)]
    fake_openai.enqueue(*(Reply(text=f"answer {i}", delay=0.05) for i in range(6)))

    async def turn(index: int) -> str:
        response = await client.post(
            f"/api/v1/sessions/{sessions[index]['id']}/messages",
            json={"content": f"question {index}", "stream": index % 2 == 0},
        )
        assert response.status_code == 200, response.text
        if index % 2 == 0:
            return streamed_text(sse_chunks(response))
        return str(response.json()["assistant_message"]["content"])

    answers = await asyncio.gather(*(turn(i) for i in range(6)))
    assert sorted(answers) == [f"answer {i}" for i in range(6)]
    for index, session in enumerate(sessions):
        stored = (await get_session(client, session["id"]))["messages"]
        assert [(m["role"], m["status"]) for m in stored] == [
            ("user", "complete"),
            ("assistant", "complete"),
        ]
        assert stored[0]["content"] == f"question {index}"
        assert stored[1]["content"] == answers[index]
    titles = {s["title"] for s in (await client.get("/api/v1/sessions")).json()["data"]}
    assert titles == {f"question {i}" for i in range(6)}


@sqlite_only
async def test_turns_at_once_in_one_session_keep_each_answer_with_its_question(
    client: httpx.AsyncClient, model: str, fake_openai: FakeOpenAI
) -> None:
    session = await new_session(client, model=model)
    fake_openai.enqueue(Reply(text="slow answer", delay=0.5), "fast answer")

    async def turn(content: str, wait: float) -> dict[str, Any]:
        await asyncio.sleep(wait)
        return await say(client, session["id"], content)

    slow, _ = await asyncio.gather(turn("slow question", 0), turn("fast question", 0.2))
    assert slow["assistant_message"]["reply_to"] == slow["user_message"]["id"]
    stored = [m["content"] for m in (await get_session(client, session["id"]))["messages"]]
    assert stored == ["slow question", "fast question", "fast answer", "slow answer"]
    await say(client, session["id"], "next")
    sent = [m["content"] for m in fake_openai.requests[-1].json["messages"]]  # type: ignore[index]
    assert sent == ["slow question", "slow answer", "fast question", "fast answer", "next"]
