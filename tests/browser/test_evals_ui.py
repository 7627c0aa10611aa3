"""An app's evals in a real browser: its editor runs the app's tests from the app page, follows
the run to its end, reads each case's pass rate and every failed assertion with the answer
that failed it; a draft version's run that regressed is flagged against its baseline; a run
in progress can be cancelled; and someone who may not edit the app sees no evals at all.

The app's model is the instruction-following fake (`homeport.testing.instructed`), served as
an OpenAI-compatible provider: it answers what the system prompt's rule lines say, and
"I don't know." to anything else, so which tests pass is known in advance."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from homeport.testing import FakeOpenAI
from homeport.testing.instructed import follows_system_prompt, instructed_model
from homeport.testing.scripting import Reply
from tests.conftest import ADMIN_KEY, LiveServer, live_server

pytestmark = pytest.mark.browser

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
PROMPT = (
    "You are a shop's support assistant.\n"
    "When asked about refund, answer: Send us your order number.\n"
    "When asked about tracking, answer: <b>Track</b> your parcel on our site.\n"
)
TESTS: list[dict[str, Any]] = [
    {"name": name, "steps": [{"prompt": prompt, "assertions": [{"contains": expected}]}]}
    for name, prompt, expected in [
        ("refund", "How do I get a refund?", "order number"),
        ("delivery", "How long does delivery take?", "working days"),  # "I don't know."
        ("tracking", "Where is tracking?", "Track"),
    ]
]
FAILED_DETAIL = "'working days' is not in the answer"
# How long the fake takes over each answer (long enough to watch a run's progress).
PACE = {"delay": 0.0}


def support_spec(prompt: str = PROMPT) -> dict[str, Any]:
    return {
        "name": "Support",
        "assistants": [{"model": "up/instructed", "system_prompt": prompt, "tests": TESTS}],
    }


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = instructed_model()

    def paced(body: Mapping[str, Any]) -> Reply:
        return Reply(text=follows_system_prompt(body), delay=PACE["delay"])

    fake.responder = paced
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("evals-ui"))
    try:
        added = httpx.post(
            f"{live.url}/api/v1/providers",
            json={"name": "up", "base_url": upstream.base_url},  # type: ignore[attr-defined]
            headers=HEADERS,
        )
        assert added.status_code == 201, added.text
        resource = {
            "apiVersion": "app.aispec.org/v1alpha1",
            "kind": "AIApp",
            "metadata": {"name": "support"},
            "spec": support_spec(),
        }
        applied = httpx.post(
            f"{live.url}/api/v1/apply", json={"resources": [resource]}, headers=HEADERS
        )
        assert applied.status_code == 200, applied.text
        yield live
    finally:
        live.stop()


@pytest.fixture
def paced() -> Iterator[None]:
    """Each answer takes a while, so that a run is seen in progress."""
    PACE["delay"] = 0.25
    try:
        yield
    finally:
        PACE["delay"] = 0.0


def sign_in(page: Page, server: LiveServer, key: str = ADMIN_KEY) -> None:
    page.goto(server.url)
    page.get_by_role("button", name="Use an API key instead").click()
    page.get_by_label("API key", exact=True).fill(key)
    page.get_by_role("button", name="Sign in with the key").click()
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def open_app(page: Page) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps").click()
    page.get_by_role("link", name="Support", exact=True).click()
    expect(page).to_have_url(re.compile(r"/apps/support$"))


def run_via_api(server: LiveServer, **body: Any) -> dict[str, Any]:
    started = httpx.post(f"{server.url}/api/v1/evals", json=body, headers=HEADERS)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run = httpx.get(
            f"{server.url}/api/v1/evals/{run_id}", params={"results": "false"}, headers=HEADERS
        ).json()
        if run["status"] not in ("queued", "running"):
            assert run["status"] == "succeeded", run
            return dict(run)
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish")


def case_row(table: Any, name: str) -> Any:
    return table.locator("tbody tr").filter(has=table.page.get_by_role("rowheader", name=name))


def test_an_editor_runs_the_tests_and_reads_each_failure(
    page: Page, server: LiveServer, paced: None
) -> None:
    sign_in(page, server)
    open_app(page)
    evals = page.get_by_role("region", name="Evals: test results")
    expect(evals).to_contain_text("No eval runs yet")
    samples = evals.get_by_label("Samples per test")
    expect(samples).to_have_value("3")
    samples.fill("2")
    evals.get_by_role("button", name="Run tests").click()
    expect(evals.get_by_role("status")).to_contain_text(
        "Started a run of version 1's tests, 2 samples each"
    )

    # The run is followed while it runs: its progress bar counts the answers in.
    row = evals.get_by_role("region", name="Eval runs").locator("tbody tr").first
    progress = row.get_by_role("progressbar")
    expect(progress).to_have_attribute("aria-valuemax", "6")
    expect(row.get_by_role("button", name=re.compile("^Cancel the run"))).to_be_visible()
    expect(row).to_contain_text("Finished", timeout=30_000)
    expect(row).to_contain_text("6/6")
    expect(row).to_contain_text("67%")  # 4 of 6 samples passed
    expect(progress).to_have_count(0)

    cases = evals.get_by_role("region", name="Cases of the latest run")
    expect(case_row(cases, "refund")).to_contain_text("100%")
    expect(case_row(cases, "refund")).to_contain_text("2/2")
    expect(case_row(cases, "delivery")).to_contain_text("0%")
    expect(case_row(cases, "delivery")).to_contain_text("0/2")
    expect(case_row(cases, "tracking")).to_contain_text("100%")

    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/apps/support/evals/[^/]+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Eval of support, version 1")
    expect(page.locator(".eval-summary")).to_contain_text("up/instructed")
    expect(page.locator(".eval-summary")).to_contain_text("2 per test")
    table = page.get_by_role("region", name="Pass rate of each case")
    expect(case_row(table, "delivery")).to_contain_text("0%")

    # Failed cases start open, with their failed samples: why each failed, and the answer.
    delivery = page.get_by_role("button", name=re.compile(r"^delivery"))
    expect(delivery).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name=re.compile(r"^refund"))).to_have_attribute(
        "aria-expanded", "false"
    )
    failed = page.get_by_role("listitem", name="delivery, sample 1")
    expect(failed).to_contain_text(FAILED_DETAIL)
    expect(failed).to_contain_text("How long does delivery take?")
    expect(failed.locator(".eval-answer")).to_have_text("I don't know.")
    expect(page.get_by_role("listitem", name="delivery, sample 2")).to_contain_text(FAILED_DETAIL)

    # An answer is shown as text, never as markup.
    page.get_by_label("Only failed samples").uncheck()
    page.get_by_role("button", name=re.compile(r"^tracking")).click()
    tracking = page.get_by_role("listitem", name="tracking, sample 1")
    answer = tracking.locator(".eval-answer")
    expect(answer).to_have_text("<b>Track</b> your parcel on our site.")
    expect(answer.locator("b")).to_have_count(0)

    page.get_by_role("link", name="← support").click()
    expect(page).to_have_url(re.compile(r"/apps/support$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Support")


def test_a_drafts_regression_is_flagged_against_its_baseline(
    page: Page, server: LiveServer
) -> None:
    base = run_via_api(server, app="support", samples=10)
    tidied = PROMPT.replace("Send us your order number.", "Refunds are possible.")
    run_via_api(
        server,
        app="support",
        spec=support_spec(tidied),
        label="tidied refunds",
        samples=10,
        baseline=base["id"],
    )

    sign_in(page, server)
    open_app(page)
    history = page.get_by_role("region", name="Version history table")
    draft = history.locator("tbody tr").first
    expect(draft.get_by_role("rowheader")).to_contain_text("2")
    expect(draft).to_contain_text("Draft")
    expect(draft).not_to_contain_text("Current")
    expect(history.locator("tbody tr").last).to_contain_text("Current")

    row = page.get_by_role("region", name="Eval runs").locator("tbody tr").first
    expect(row).to_contain_text("Draft")
    expect(row).to_contain_text("tidied refunds")
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Eval of support, version 2")
    expect(page.locator(".eval-verdict")).to_contain_text("Significantly worse")
    table = page.get_by_role("region", name="Pass rate of each case")
    expect(table.get_by_role("columnheader", name="Version 1")).to_be_visible()
    expect(table.get_by_role("columnheader", name="Adjusted p")).to_be_visible()
    refund = case_row(table, "refund")
    expect(refund).to_contain_text("Significantly worse")
    expect(refund).to_contain_text("\N{MINUS SIGN}100 pts")
    expect(case_row(table, "tracking")).not_to_contain_text("Significantly worse")

    # Another baseline can be picked: the base run itself, named explicitly, says the same.
    page.get_by_label("Compare with").select_option(base["id"])
    expect(page.locator(".eval-verdict")).to_contain_text("Significantly worse than version 1")
    expect(refund).to_contain_text("\N{MINUS SIGN}100 pts")


def test_a_run_in_progress_can_be_cancelled(page: Page, server: LiveServer, paced: None) -> None:
    sign_in(page, server)
    open_app(page)
    evals = page.get_by_role("region", name="Evals: test results")
    evals.get_by_label("Samples per test").fill("100")
    evals.get_by_role("button", name="Run tests").click()
    row = evals.get_by_role("region", name="Eval runs").locator("tbody tr").first
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuemax", "300")
    row.get_by_role("button", name=re.compile("^Cancel the run")).click()
    expect(row).to_contain_text("Cancelled")
    expect(row.get_by_role("progressbar")).to_have_count(0)
    expect(evals.get_by_role("status")).to_contain_text("The run is cancelled")


def test_someone_who_cannot_edit_the_app_sees_no_evals(page: Page, server: LiveServer) -> None:
    published = httpx.post(
        f"{server.url}/api/v1/apps/support/publish", json={"published": True}, headers=HEADERS
    )
    assert published.status_code == 200, published.text
    assert httpx.post(
        f"{server.url}/api/v1/users", json={"name": "reader"}, headers=HEADERS
    ).is_success
    made = httpx.post(
        f"{server.url}/api/v1/keys", json={"name": "test", "user": "reader"}, headers=HEADERS
    )
    assert made.status_code == 201, made.text

    sign_in(page, server, made.json()["key"])
    with page.expect_response(re.compile(r"/api/v1/evals\?")) as listed:
        open_app(page)
    assert listed.value.status in (403, 404)
    expect(page.get_by_role("region", name="Version history table")).to_be_visible()
    expect(page.get_by_role("heading", name="Evals: test results")).to_have_count(0)
    expect(page.get_by_role("button", name="Run tests")).to_have_count(0)
