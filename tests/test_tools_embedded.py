"""The pipeline with the real embedded model (Gemma 3 270M, a base model): the done-when
questions against the HR example API on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from homeport.services.container import build_services
from tests.conftest import asgi_client, make_settings
from tests.test_tools import HR, HR_SPEC, SERVICE_TOKEN, USER_TOKENS, Api, answer_of, apply, ask

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture(scope="module")
def hr() -> Iterator[Api]:
    api = Api(HR.create_app(SERVICE_TOKEN, user_tokens=USER_TOKENS))
    yield api
    api.server.stop()


@pytest.fixture
async def client(tmp_path: Path, hr: Api) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path, embedded_model=True, outbound_allow=["127.0.0.1"])
    async with build_services(settings) as services, asgi_client(services) as http:
        await http.put("/api/v1/secrets/HR_API_TOKEN", json={"value": SERVICE_TOKEN})
        api = {
            "name": "jobs",
            "description": "Open job vacancies at Brekka Harbour",
            "url": hr.url,
            "schema": HR_SPEC,
            "operations": ["listJobs", "getJob"],
            "headers": {"Authorization": "Bearer ${HR_API_TOKEN}"},
        }
        assistant = {"model": "local/gemma-3-270m", "apis": [api]}
        await apply(http, "hr-jobs", {"assistants": [assistant]})
        yield http


async def test_vacancies_in_bristol_are_looked_up_with_the_location_extracted(
    client: httpx.AsyncClient, hr: Api
) -> None:
    hr.received.clear()
    body = await ask(client, "app/hr-jobs", "What vacancies are open in Bristol?")

    assert hr.received == [("GET", "/jobs?location=Bristol", f"Bearer {SERVICE_TOKEN}")]
    assert [c["operation"] for c in body["homeport"]["api_calls"]] == ["listJobs"]
    answer = answer_of(body)
    assert "Data engineer" in answer and "Freight sales manager" in answer
    assert "Backend engineer" not in answer


async def test_the_capital_of_france_calls_nothing(client: httpx.AsyncClient, hr: Api) -> None:
    hr.received.clear()
    body = await ask(client, "app/hr-jobs", "What is the capital of France?")

    assert hr.received == [] and body["homeport"]["api_calls"] == []
    assert "Paris" in answer_of(body)
