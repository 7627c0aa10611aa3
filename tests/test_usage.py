"""Usage accounting, quotas and rate limits, and the usage report.

Requests go through the real app to a real fake upstream; usage is read back through
/api/v1/usage, as the admin UI and the CLI read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from homeport.domain.usage import UsageRecord
from homeport.services.container import Services, build_services
from homeport.services.limits import MemoryRateLimiter
from homeport.testing import FakeOpenAI
from homeport.testing.scripting import Failure, Reply
from tests.conftest import ADMIN_KEY, asgi_client, live_server, make_settings

pytestmark = pytest.mark.anyio

MODEL = "up/fake-chat"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "one two three"}]}


# -- helpers ------------------------------------------------------------------------------


async def add_upstream(client: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    base_url = fake.base_url  # type: ignore[attr-defined]
    response = await client.post("/api/v1/providers", json={"name": "up", "base_url": base_url})
    assert response.status_code == 201, response.text


async def new_user(client: httpx.AsyncClient, name: str) -> tuple[str, str, str]:
    """A user and a key of theirs: (user id, key id, key)."""
    response = await client.post("/api/v1/users", json={"name": name})
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    key_id, key = await new_key(client, name)
    return user_id, key_id, key


async def new_key(client: httpx.AsyncClient, user: str, **extra: Any) -> tuple[str, str]:
    response = await client.post("/api/v1/keys", json={"name": "k", "user": user, **extra})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["key"]


async def report(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/usage", params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["data"]
    return rows


def by(rows: list[dict[str, Any]], field: str) -> dict[Any, dict[str, Any]]:
    return {row[field]: row for row in rows}


async def chat(client: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={**CHAT, **extra})


async def set_quota(
    client: httpx.AsyncClient, subject_type: str, subject_id: str, **limits: int | None
) -> dict[str, Any]:
    response = await client.put(f"/api/v1/quotas/{subject_type}/{subject_id}", json=limits)
    assert response.status_code == 200, response.text
    quota: dict[str, Any] = response.json()
    return quota


def assert_refused(response: httpx.Response, code: str) -> int:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["type"] == "rate_limit_error"
    assert error["code"] == code
    return int(response.headers["Retry-After"])


@pytest.fixture
async def upstream_client(
    client: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> AsyncIterator[httpx.AsyncClient]:
    await add_upstream(client, fake_openai)
    yield client


@pytest.fixture
async def slow_flush(tmp_path: Path) -> AsyncIterator[Services]:
    """Services that write usage only when told to (or at shutdown)."""
    async with build_services(make_settings(tmp_path, usage_flush_seconds=60)) as built:
        yield built


# -- recording ----------------------------------------------------------------------------


async def test_chat_is_recorded_streamed_or_not_with_the_tokens_the_model_reported(
    upstream_client: httpx.AsyncClient, services: Services, fake_openai: FakeOpenAI
) -> None:
    client = upstream_client
    fake_openai.enqueue("a b c d e", "f g")
    assert (await chat(client)).status_code == 200
    streamed = await chat(client, stream=True)
    assert streamed.status_code == 200 and "[DONE]" in streamed.text
    await services.usage.flush()

    [row] = await report(client, group_by="operation,model,provider,user")
    me = (await client.get("/api/v1/me")).json()
    assert row["operation"] == "chat"
    assert (row["model"], row["provider"], row["user"]) == (MODEL, "up", me["id"])
    assert row["requests"] == 2
    assert row["prompt_tokens"] == 3 + 3
    assert row["completion_tokens"] == 5 + 2
    assert row["total_tokens"] == 13
    assert (row["errors"], row["cancelled"]) == (0, 0)
    assert row["avg_latency_ms"] is not None and row["p95_latency_ms"] is not None


async def test_completions_and_embeddings_are_recorded_as_their_operation(
    upstream_client: httpx.AsyncClient, services: Services, fake_openai: FakeOpenAI
) -> None:
    client = upstream_client
    fake_openai.enqueue("x y z")
    response = await client.post("/v1/completions", json={"model": MODEL, "prompt": "p q"})
    assert response.status_code == 200, response.text
    response = await client.post(
        "/v1/embeddings", json={"model": "up/fake-embed", "input": ["a b", "c"]}
    )
    assert response.status_code == 200, response.text
    await services.usage.flush()

    rows = by(await report(client, group_by="operation,model"), "operation")
    assert rows["completion"]["model"] == MODEL
    assert (rows["completion"]["prompt_tokens"], rows["completion"]["completion_tokens"]) == (2, 3)
    assert rows["embedding"]["model"] == "up/fake-embed"
    assert (rows["embedding"]["prompt_tokens"], rows["embedding"]["completion_tokens"]) == (3, 0)


async def test_failed_requests_are_recorded_as_errors_without_tokens(
    upstream_client: httpx.AsyncClient, services: Services, fake_openai: FakeOpenAI
) -> None:
    client = upstream_client
    fake_openai.enqueue(Failure(500, "boom"), Failure(500, "boom again"))
    assert (await chat(client)).status_code == 502
    assert (await chat(client, stream=True)).status_code == 502
    # A model that does not exist reaches no provider: nothing to record.
    assert (await chat(client, model="up/nope")).status_code == 404
    await services.usage.flush()

    [row] = await report(client, group_by="model")
    assert (row["model"], row["requests"], row["errors"]) == (MODEL, 2, 2)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (0, 0)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def test_a_stream_the_client_abandons_is_recorded_as_cancelled_with_what_it_used(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    words = " ".join(f"w{i}" for i in range(100))
    server = live_server(tmp_path)
    try:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        http = httpx.Client(base_url=server.url, headers=headers, timeout=10)
        base_url = fake_openai.base_url  # type: ignore[attr-defined]
        assert http.post("/api/v1/providers", json={"name": "up", "base_url": base_url}).is_success
        fake_openai.enqueue(Reply(text=words, token_delay=0.03))
        seen = 0
        with http.stream("POST", "/v1/chat/completions", json={**CHAT, "stream": True}) as r:
            for line in r.iter_lines():
                if line.startswith("data: {"):
                    delta = json.loads(line.removeprefix("data: "))["choices"][0]["delta"]
                    seen += bool(delta.get("content"))
                if seen >= 3:
                    break

        def cancelled() -> dict[str, Any] | None:
            rows = http.get("/api/v1/usage").json()["data"]
            return rows[0] if rows and rows[0]["cancelled"] else None

        # Written by the background writer (every second by default), not on request.
        row = wait_for(cancelled)
        assert row is not None, "the abandoned stream was never recorded"
        assert (row["requests"], row["cancelled"], row["errors"]) == (1, 1, 0)
        # Estimated: the upstream never got to send its usage.
        assert seen <= row["completion_tokens"] < 100
        assert row["prompt_tokens"] >= 1
    finally:
        http.close()
        server.stop()


async def test_records_are_written_in_batches_and_the_rest_at_shutdown(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    settings = make_settings(tmp_path, usage_flush_seconds=60, usage_batch_size=3)
    async with build_services(settings) as services, asgi_client(services) as client:
        await add_upstream(client, fake_openai)
        for _ in range(7):
            assert (await chat(client)).status_code == 200
        # Every full batch is written at once, without waiting for the minute to pass;
        # fewer than a batch may wait (what arrived after the last write).
        for _ in range(500):
            if services.usage.pending < 3:
                break
            await anyio.sleep(0.02)
        waiting = services.usage.pending
        assert waiting < 3
        [row] = await report(client)
        assert row["requests"] == 7 - waiting
    # Shut down cleanly: what was waiting is written on the way out.
    async with build_services(settings) as services, asgi_client(services) as client:
        [row] = await report(client)
        assert row["requests"] == 7


def test_nothing_recorded_is_lost_when_the_server_stops(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    server = live_server(tmp_path, usage_flush_seconds=60)
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        base_url = fake_openai.base_url  # type: ignore[attr-defined]
        assert http.post("/api/v1/providers", json={"name": "up", "base_url": base_url}).is_success
        for _ in range(5):
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        assert http.get("/api/v1/usage").json()["data"] == []  # nothing written yet
    server.stop()

    server = live_server(tmp_path, usage_flush_seconds=60)
    try:
        rows = httpx.get(server.url + "/api/v1/usage", headers=headers).json()["data"]
        assert rows[0]["requests"] == 5
    finally:
        server.stop()


# -- quotas and rate limits -----------------------------------------------------------------


async def test_a_users_requests_per_minute_are_limited_with_retry_after(
    upstream_client: httpx.AsyncClient, services: Services
) -> None:
    admin = upstream_client
    alice_id, _, alice_key = await new_user(admin, "alice")
    _, _, bob_key = await new_user(admin, "bob")
    quota = await set_quota(admin, "user", "alice", requests_per_minute=2)
    assert (quota["subject_type"], quota["subject_id"]) == ("user", alice_id)

    async with asgi_client(services, alice_key) as alice, asgi_client(services, bob_key) as bob:
        assert (await chat(alice)).status_code == 200
        assert (await chat(alice, stream=True)).status_code == 200
        refused = await chat(alice)
        wait = assert_refused(refused, "rate_limit_exceeded")
        assert 1 <= wait <= 60
        assert "2 requests per minute" in refused.json()["error"]["message"]
        # Streams and embeddings are refused before anything starts.
        assert_refused(await chat(alice, stream=True), "rate_limit_exceeded")
        embed = {"model": "up/fake-embed", "input": "x"}
        assert_refused(await alice.post("/v1/embeddings", json=embed), "rate_limit_exceeded")
        # Other users are not affected, and neither is the admin.
        assert (await chat(bob)).status_code == 200
        assert (await chat(admin)).status_code == 200


async def test_the_default_quota_applies_to_each_user_without_their_own(
    upstream_client: httpx.AsyncClient, services: Services
) -> None:
    admin = upstream_client
    _, _, alice_key = await new_user(admin, "alice")
    _, _, bob_key = await new_user(admin, "bob")
    _, _, carol_key = await new_user(admin, "carol")
    await set_quota(admin, "default", "*", requests_per_minute=1)
    await set_quota(admin, "user", "carol", requests_per_minute=3)
    # An admin without a quota of their own is under the default too.
    await set_quota(admin, "user", "admin")

    for key, allowed in ((alice_key, 1), (bob_key, 1), (carol_key, 3)):
        async with asgi_client(services, key) as user:
            for _ in range(allowed):
                assert (await chat(user)).status_code == 200
            assert_refused(await chat(user), "rate_limit_exceeded")
    # The admin exempted themselves with an empty quota of their own.
    for _ in range(3):
        assert (await chat(admin)).status_code == 200


async def test_a_keys_quota_limits_that_key_only(
    upstream_client: httpx.AsyncClient, services: Services
) -> None:
    admin = upstream_client
    _, limited_id, limited = await new_user(admin, "alice")
    _, other = await new_key(admin, "alice")
    await set_quota(admin, "key", limited_id, requests_per_minute=1)

    async with asgi_client(services, limited) as first, asgi_client(services, other) as second:
        assert (await chat(first)).status_code == 200
        refused = assert_refused(await chat(first), "rate_limit_exceeded")
        assert refused >= 1
        assert "this API key" in (await chat(first)).json()["error"]["message"]
        assert (await chat(second)).status_code == 200


async def test_requests_are_let_through_again_once_the_window_has_passed(
    upstream_client: httpx.AsyncClient, services: Services
) -> None:
    now = [1000.0]
    services.limits.limiter = MemoryRateLimiter(clock=lambda: now[0])
    admin = upstream_client
    _, _, key = await new_user(admin, "alice")
    await set_quota(admin, "user", "alice", requests_per_minute=2)

    async with asgi_client(services, key) as alice:
        assert (await chat(alice)).status_code == 200
        now[0] += 20
        assert (await chat(alice)).status_code == 200
        now[0] += 10
        # The first request leaves the window 60 s after it was made: 30 s from now.
        assert assert_refused(await chat(alice), "rate_limit_exceeded") == 30
        now[0] += 30
        assert (await chat(alice)).status_code == 200
        assert assert_refused(await chat(alice), "rate_limit_exceeded") == 20
        now[0] += 20
        assert (await chat(alice)).status_code == 200


async def test_the_memory_limiter_takes_from_all_buckets_or_none() -> None:
    now = [0.0]
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    assert await limiter.acquire([("user:a", 1), ("key:k", 5)]) is None
    refusal = await limiter.acquire([("user:a", 1), ("key:k", 5)])
    assert refusal is not None and refusal.bucket == "user:a"
    assert refusal.retry_after == 60
    # The refused request took nothing from the key's bucket: four more fit in it.
    for _ in range(4):
        assert await limiter.acquire([("key:k", 5)]) is None
    assert await limiter.acquire([("key:k", 5)]) is not None
    now[0] = 60.0
    assert await limiter.acquire([("user:a", 1), ("key:k", 5)]) is None


async def test_tokens_per_day_count_unwritten_usage_and_reset_at_midnight_utc(
    slow_flush: Services, fake_openai: FakeOpenAI
) -> None:
    services = slow_flush
    async with asgi_client(services) as admin:
        await add_upstream(admin, fake_openai)
        _, _, key = await new_user(admin, "alice")
        # Each request below costs 3 prompt + 8 completion tokens.
        await set_quota(admin, "user", "alice", tokens_per_day=22)
        fake_openai.enqueue(*(["a b c d e f g h"] * 4))
        async with asgi_client(services, key) as alice:
            assert (await chat(alice)).status_code == 200
            await services.usage.flush()
            assert (await chat(alice, stream=True)).status_code == 200
            assert services.usage.pending == 1  # the quota sees it before it is written
            refused = await chat(alice)
            wait = assert_refused(refused, "quota_exceeded")
            midnight = datetime.combine(
                datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
            )
            assert abs(wait - (midnight - datetime.now(UTC)).total_seconds()) <= 5
            assert "22 of 22 tokens" in refused.json()["error"]["message"]
            await services.usage.flush()
            # Written now, and counted once, not twice.
            refused = await chat(alice)
            assert "22 of 22 tokens" in refused.json()["error"]["message"]
            # Raising the quota applies at once.
            await set_quota(admin, "user", "alice", tokens_per_day=1000)
            assert (await chat(alice)).status_code == 200


async def test_chatting_in_a_session_is_limited_too(
    upstream_client: httpx.AsyncClient, services: Services
) -> None:
    admin = upstream_client
    _, _, key = await new_user(admin, "alice")
    await set_quota(admin, "user", "alice", requests_per_minute=1)
    async with asgi_client(services, key) as alice:
        session = (await alice.post("/api/v1/sessions", json={"model": MODEL})).json()
        path = f"/api/v1/sessions/{session['id']}/messages"
        assert (await alice.post(path, json={"content": "hi", "stream": False})).is_success
        assert_refused(await alice.post(path, json={"content": "again"}), "rate_limit_exceeded")
        stored = (await alice.get(f"/api/v1/sessions/{session['id']}")).json()["messages"]
        assert len(stored) == 2  # the refused turn stored nothing


async def test_quotas_are_managed_by_admins(client: httpx.AsyncClient, services: Services) -> None:
    user_id, key_id, key = await new_user(client, "alice")
    assert (await client.get("/api/v1/quotas")).json()["data"] == []
    # By name or by id; stored by id.
    quota = await set_quota(client, "user", "alice", requests_per_minute=5)
    assert quota["subject_id"] == user_id
    assert quota["tokens_per_day"] is None
    await set_quota(client, "key", key_id, tokens_per_day=100)
    await set_quota(client, "default", "*", requests_per_minute=60, tokens_per_day=100_000)
    listed = (await client.get("/api/v1/quotas")).json()["data"]
    assert {(q["subject_type"], q["subject_id"]) for q in listed} == {
        ("default", "*"),
        ("key", key_id),
        ("user", user_id),
    }
    got = await client.get(f"/api/v1/quotas/user/{user_id}")
    assert got.json()["requests_per_minute"] == 5
    # Setting replaces: a field left out is no limit.
    quota = await set_quota(client, "user", "alice", tokens_per_day=7)
    assert (quota["requests_per_minute"], quota["tokens_per_day"]) == (None, 7)

    assert (await client.delete("/api/v1/quotas/user/alice")).status_code == 204
    assert (await client.get("/api/v1/quotas/user/alice")).status_code == 404
    assert (await client.delete("/api/v1/quotas/user/alice")).status_code == 404

    bad = [
        ("user/nobody", {"requests_per_minute": 1}, 404),
        ("key/key_nope", {"requests_per_minute": 1}, 404),
        ("default/everyone", {"requests_per_minute": 1}, 422),
        ("team/x", {"requests_per_minute": 1}, 422),
        ("user/alice", {"requests_per_minute": 0}, 422),
        ("user/alice", {"rpm": 1}, 422),
    ]
    for path, body, status in bad:
        response = await client.put(f"/api/v1/quotas/{path}", json=body)
        assert response.status_code == status, (path, response.text)

    async with asgi_client(services, key) as alice:
        assert (await alice.get("/api/v1/quotas")).status_code == 403
        response = await alice.put("/api/v1/quotas/user/alice", json={})
        assert response.status_code == 403

    events = (await client.get("/api/v1/audit", params={"action": "quota.*"})).json()["data"]
    assert {e["action"] for e in events} == {"quota.set", "quota.deleted"}
    assert any(e["target_id"] == f"user:{user_id}" for e in events)


# -- the report --------------------------------------------------------------------------------


async def test_users_see_only_their_own_usage_and_admins_see_everyones(
    upstream_client: httpx.AsyncClient, services: Services
) -> None:
    admin = upstream_client
    alice_id, _, alice_key = await new_user(admin, "alice")
    bob_id, bob_key_id, bob_key = await new_user(admin, "bob")
    _, scoped = await new_key(admin, "alice", scopes=["inference"])
    async with asgi_client(services, alice_key) as alice, asgi_client(services, bob_key) as bob:
        for user, times in ((alice, 2), (bob, 3)):
            for _ in range(times):
                assert (await chat(user)).status_code == 200
        await services.usage.flush()

        mine = await report(alice, group_by="user")
        assert [(r["user"], r["requests"]) for r in mine] == [(alice_id, 2)]
        assert (await report(alice, group_by="user", user="alice"))[0]["requests"] == 2
        assert await report(alice, key=bob_key_id) == []
        refused = await alice.get("/api/v1/usage", params={"user": bob_id})
        assert refused.status_code == 403
        assert [(r["user"], r["requests"]) for r in await report(bob, group_by="user")] == [
            (bob_id, 3)
        ]

    everyone = by(await report(admin, group_by="user"), "user")
    assert (everyone[alice_id]["requests"], everyone[bob_id]["requests"]) == (2, 3)
    assert (await report(admin, user="bob"))[0]["requests"] == 3
    async with asgi_client(services, scoped) as limited:
        assert (await limited.get("/api/v1/usage")).status_code == 403


async def test_grouping_by_model_day_and_hour_with_latency_percentiles(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url, usage_flush_seconds=60)
    day = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

    def record(model: str, at: datetime, latency: int, **extra: Any) -> UsageRecord:
        values: dict[str, Any] = {
            "user_id": "user_a",
            "key_id": "key_a",
            "app": None,
            "provider": model.split("/")[0],
            "model": model,
            "operation": "chat",
            "outcome": "ok",
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "latency_ms": latency,
            "created_at": at,
        }
        return UsageRecord(**{**values, **extra})

    async with build_services(settings) as services, asgi_client(services) as client:
        for latency in range(1, 21):  # 20 requests, 1..20 ms, day one at 09:30
            services.usage.record(record("p/m1", day, latency))
        services.usage.record(record("p/m1", day + timedelta(hours=1), 100, outcome="error"))
        services.usage.record(record("q/m2", day + timedelta(days=1), 7, user_id="user_b"))
        services.usage.record(
            record("q/m2", day + timedelta(days=1), 9, outcome="cancelled", app="hr")
        )
        await services.usage.flush()

        rows = await report(client, group_by="model,day")
        assert [(r["model"], r["day"], r["requests"]) for r in rows] == [
            ("p/m1", "2026-03-01", 21),
            ("q/m2", "2026-03-02", 2),
        ]
        first, second = rows
        assert (first["prompt_tokens"], first["completion_tokens"], first["errors"]) == (
            210,
            105,
            1,
        )
        # Nearest rank: the 20th of 21 latencies (1..20 and 100).
        assert first["p95_latency_ms"] == 20
        assert first["avg_latency_ms"] == pytest.approx(310 / 21, abs=0.1)
        assert (second["cancelled"], second["p95_latency_ms"]) == (1, 9)

        hours = await report(client, group_by="hour", model="p/m1")
        assert [(r["hour"], r["requests"], r["p95_latency_ms"]) for r in hours] == [
            ("2026-03-01T09:00:00Z", 20, 19),
            ("2026-03-01T10:00:00Z", 1, 100),
        ]
        users = await report(client, group_by="user,app")
        assert {(r["user"], r["app"]): r["requests"] for r in users} == {
            ("user_a", None): 21,
            ("user_a", "hr"): 1,
            ("user_b", None): 1,
        }
        assert [r["provider"] for r in await report(client, group_by="provider")] == ["p", "q"]

        since = (day + timedelta(hours=1)).isoformat()
        until = (day + timedelta(days=1)).isoformat()
        [window] = await report(client, since=since, until=until)
        assert (window["requests"], window["errors"]) == (1, 1)
        assert await report(client, since="2030-01-01") == []

        bad = await client.get("/api/v1/usage", params={"group_by": "model,colour"})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == "group_by"
        both = await client.get("/api/v1/usage", params={"group_by": "day,hour"})
        assert both.status_code == 422


# -- the CLI ---------------------------------------------------------------------------------


def test_the_cli_sets_lists_and_deletes_quotas_and_shows_usage(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    server = live_server(tmp_path)
    env = {
        **os.environ,
        "HOMEPORT_URL": server.url,
        "HOMEPORT_API_KEY": ADMIN_KEY,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "homeport", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    try:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        with httpx.Client(base_url=server.url, headers=headers) as http:
            base_url = fake_openai.base_url  # type: ignore[attr-defined]
            assert http.post(
                "/api/v1/providers", json={"name": "up", "base_url": base_url}
            ).is_success
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200

        done = cli("quotas", "set", "user", "admin", "--rpm", "30")
        assert done.returncode == 0, done.stderr
        assert "30 requests/min, unlimited tokens/day" in done.stdout
        listed = cli("quotas", "list")
        assert listed.returncode == 0, listed.stderr
        assert "REQUESTS/MIN" in listed.stdout and "30" in listed.stdout
        missing = cli("quotas", "set", "user", "nobody", "--rpm", "1")
        assert missing.returncode == 4 and "no user 'nobody'" in missing.stderr
        assert cli("quotas", "delete", "user", "admin").returncode == 0
        assert "user" not in cli("quotas", "list").stdout.splitlines()[-1]

        def usage_rows() -> list[str] | None:
            shown = cli("usage", "--by", "model,day", "--since", "1d")
            assert shown.returncode == 0, shown.stderr
            lines = shown.stdout.splitlines()
            return lines if len(lines) > 1 else None  # the header alone until it is written

        lines = wait_for(usage_rows)
        assert lines is not None, "the request never showed in `homeport usage`"
        assert lines[0].split()[:3] == ["MODEL", "DAY", "REQUESTS"]
        assert lines[1].split()[:3] == [MODEL, datetime.now(UTC).date().isoformat(), "1"]
    finally:
        server.stop()
