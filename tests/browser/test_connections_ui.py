"""Connections and API calls in a real browser: a user saves a personal token (never shown
back) and deletes it; an admin sets up an OAuth provider and reads the API call log; a chat
with an app whose assistant called an API shows the "API calls" line under its answer.

The API is the HR example API on a real local socket (as in tests/test_tools.py); the model
is the scripted fake upstream, registered as a provider."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from tests.conftest import ADMIN_KEY, LiveServer, live_server
from tests.test_tools import HR, SERVICE_TOKEN, USER_TOKENS, Api, app_spec, jobs_api

pytestmark = pytest.mark.browser

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
PASSWORD = "a long enough password"
TOKEN = "personal-t0ken-never-shown-again"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat"])
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def hr() -> Iterator[Api]:
    api = Api(HR.create_app(SERVICE_TOKEN, user_tokens=USER_TOKENS))
    yield api
    api.server.stop()


@pytest.fixture(scope="module")
def server(
    upstream: FakeOpenAI, hr: Api, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("connections"), outbound_allow=["127.0.0.1"])
    try:
        with httpx.Client(base_url=live.url, headers=HEADERS) as http:
            base_url = upstream.base_url  # type: ignore[attr-defined]
            added = http.post("/api/v1/providers", json={"name": "up", "base_url": base_url})
            assert added.status_code == 201, added.text
            secret = http.put("/api/v1/secrets/HR_API_TOKEN", json={"value": SERVICE_TOKEN})
            assert secret.status_code in (200, 201), secret.text
            apply(http, "hr-jobs", app_spec(jobs_api(hr)))
            for name, roles in (("root", ["admin"]), ("ada", ["user"])):
                body = {"name": name, "password": PASSWORD, "roles": roles}
                created = http.post("/api/v1/users", json=body)
                assert created.status_code in (200, 201), created.text
        yield live
    finally:
        live.stop()


def apply(http: httpx.Client, name: str, spec: dict[str, Any]) -> None:
    resource = {
        "apiVersion": "app.aispec.org/v1alpha1",
        "kind": "AIApp",
        "metadata": {"name": name},
        "spec": spec,
    }
    applied = http.post("/api/v1/apply", json={"resources": [resource]})
    assert applied.status_code == 200, applied.text


def sign_in(page: Page, server: LiveServer, name: str, path: str = "/") -> None:
    page.goto(server.url + path)
    page.get_by_label("Name or email").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text(name)


def test_a_user_saves_a_personal_token_that_is_never_shown_and_deletes_it(
    page: Page, server: LiveServer
) -> None:
    sign_in(page, server, "ada")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Connections").click()
    expect(page.get_by_role("heading", name="Connections", level=1)).to_be_visible()
    expect(page.get_by_text("No connections yet.")).to_be_visible()

    page.get_by_label("Connection name").fill("hr")
    token = page.get_by_label("Token", exact=True)
    expect(token).to_have_attribute("type", "password")
    token.fill(TOKEN)
    page.get_by_role("button", name="Save token").click()
    expect(page.get_by_role("status")).to_have_text("Saved the token for hr.")
    table = page.get_by_role("table", name="Your connections")
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="hr"))
    expect(row).to_contain_text("Personal token")
    expect(token).to_have_value("")
    assert TOKEN not in page.content()
    page.reload()
    expect(row).to_be_visible()
    assert TOKEN not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete hr").click()
    expect(page.get_by_role("status")).to_have_text("Deleted hr.")
    expect(page.get_by_text("No connections yet.")).to_be_visible()


def test_connect_is_prefilled_and_connected_is_announced(page: Page, server: LiveServer) -> None:
    sign_in(page, server, "ada", "/connections?connect=github")
    expect(page.get_by_label("Provider name")).to_have_value("github")
    page.goto(f"{server.url}/connections?connected=github")
    expect(page.get_by_role("status")).to_have_text("Connected github.")


def test_an_admin_sets_up_an_oauth_provider(page: Page, server: LiveServer) -> None:
    sign_in(page, server, "root", "/admin/oauth")
    expect(page.get_by_role("heading", name="OAuth providers", level=1)).to_be_visible()
    page.get_by_label("Provider name").fill("crm")
    page.get_by_label("Authorize URL").fill("https://crm.example.org/authorize")
    page.get_by_label("Token URL").fill("https://crm.example.org/token")
    page.get_by_label("Client id").fill("homeport")
    page.get_by_label(re.compile("^Client secret")).fill("client-s3cret")
    page.get_by_label(re.compile("^Scopes")).fill("read profile")
    page.get_by_role("button", name="Save provider").click()
    expect(page.get_by_role("status")).to_have_text("Saved crm.")
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name="crm"))
    expect(row).to_contain_text("Confidential")
    expect(row).to_contain_text("read profile")
    assert "client-s3cret" not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete crm").click()
    expect(page.get_by_role("status")).to_have_text("Deleted crm.")


def test_an_admin_reads_the_api_call_log(
    page: Page, server: LiveServer, upstream: FakeOpenAI
) -> None:
    upstream.enqueue(Reply(tool_calls=[{"name": "getJob", "arguments": {"jobId": "eng-1"}}]))
    upstream.enqueue("The backend engineer job.")
    answered = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"model": "app/hr-jobs", "messages": [{"role": "user", "content": "eng-1?"}]},
        headers=HEADERS,
        timeout=30,
    )
    assert answered.status_code == 200, answered.text

    sign_in(page, server, "root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="API calls").click()
    expect(page).to_have_url(f"{server.url}/admin/api-calls")
    page.get_by_label("App", exact=True).fill("hr-jobs")
    page.get_by_role("button", name="Filter").click()
    table = page.get_by_role("table", name="API calls, newest first")
    call = table.get_by_role("row").filter(has_text="GET jobs.getJob")
    expect(call.first).to_contain_text("200")
    expect(call.first).to_contain_text("hr-jobs")
    assert SERVICE_TOKEN not in page.content()

    page.get_by_label("App", exact=True).fill("no-such-app")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No API calls match.")).to_be_visible()


def test_a_chat_answer_lists_the_api_calls_its_app_made(
    page: Page, server: LiveServer, upstream: FakeOpenAI
) -> None:
    sign_in(page, server, "root", "/?model=app/hr-jobs")
    upstream.enqueue(Reply(tool_calls=[{"name": "listJobs", "arguments": {"location": "Bristol"}}]))
    upstream.enqueue("In Bristol: a data engineer.")
    page.get_by_label("Message", exact=True).fill("What vacancies are open in Bristol?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant").last
    expect(answer.locator(".text")).to_contain_text("In Bristol: a data engineer.")
    calls = answer.get_by_role("region", name="API calls")
    expect(calls).to_contain_text("jobs.listJobs")
    expect(calls).to_contain_text("200")
