"""The Runners admin page in a real browser: the co-located runner's card and memory bar, a
runner token shown once with its command, a real runner process dialling in with it, a model
warmed from the catalogue and unloaded again, the token revoked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.conftest import ADMIN_KEY, LiveServer, live_server
from tests.runner_support import RunnerProcess, put_model

pytestmark = pytest.mark.browser

PASSWORD = "a long enough password"
GIB = 1024**3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("runners-page"))
    created = httpx.post(
        f"{live.url}/api/v1/users",
        json={"name": "root", "password": PASSWORD, "roles": ["admin"]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert created.status_code in (200, 201), created.text
    yield live
    live.stop()


def open_runners_page(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_label("Name or email").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Signed in as")).to_have_text("root")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Admin").click()
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Runners").click()
    expect(page).to_have_url(f"{server.url}/admin/runners")
    expect(page.get_by_role("heading", name="Runners", level=1)).to_be_visible()


def test_a_runner_joins_with_a_new_token_and_serves_a_warmed_model(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    open_runners_page(page, server)
    local = page.get_by_role("article", name="local")
    memory = local.get_by_role("meter", name="Memory for models")
    expect(memory).to_have_attribute("aria-valuenow", "0")
    expect(memory).to_have_attribute("aria-valuetext", re.compile(r"^0 B of [\d.]+ GiB used"))

    page.get_by_label("Runner name").fill("local")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_contain_text("'local' cannot name a runner")
    page.get_by_role("button", name="Dismiss error").click()
    expect(page.get_by_role("alert")).to_have_count(0)

    page.get_by_label("Runner name").fill("gpu-1")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_text("you won't see it again")).to_be_visible()
    token = page.get_by_label("New runner token", exact=True).input_value()
    assert token.startswith("hpr-")
    command = f"homeport runner --control-plane {server.url} --token {token}"
    expect(page.get_by_label("Command to start the runner", exact=True)).to_have_value(command)
    tokens = page.get_by_role("table", name="Runner tokens")
    row = tokens.get_by_role("row").filter(has=page.get_by_role("rowheader", name="gpu-1"))
    expect(row).to_contain_text("Not connected")
    page.get_by_role("button", name="I have saved it").click()
    expect(page.get_by_label("New runner token", exact=True)).to_have_count(0)

    runner = RunnerProcess(server, "gpu-1", tmp_path, token=token)
    try:
        runner.start()
        card = page.get_by_role("article", name="gpu-1")
        expect(card).to_contain_text("fake 1.0")  # the page refreshes by itself
        expect(row.get_by_text("Connected", exact=True)).to_be_visible()
        expect(card.get_by_role("meter", name="Memory for models")).to_have_attribute(
            "aria-valuetext", "0 B of 10 GiB used (0%)"
        )

        put_model(server, "demo", memory="2Gi", options={"load_seconds": 2})
        catalogue = page.get_by_role("table", name="Model catalogue")
        expect(catalogue.get_by_role("rowheader", name=re.compile("^demo"))).to_be_visible()
        catalogue.get_by_role("button", name="Warm demo").click()
        expect(page.get_by_role("status").filter(has_text="Warming demo.")).to_be_visible()
        expect(card.get_by_role("progressbar", name="Loading demo")).to_be_visible()
        expect(card).to_contain_text("Ready", timeout=15_000)
        expect(card.get_by_role("progressbar")).to_have_count(0)
        expect(card.get_by_role("meter", name="Memory for models")).to_have_attribute(
            "aria-valuetext", "2 GiB of 10 GiB used (20%)"
        )
        expect(card).to_contain_text("loaded demo")
        decisions = page.get_by_role("table", name="Scheduler decisions, newest first")
        loaded = decisions.get_by_role("row").filter(has_text="ready").filter(has_text="demo")
        expect(loaded.first).to_contain_text("gpu-1")

        page.once("dialog", lambda dialog: dialog.accept())
        card.get_by_role("button", name="Unload demo on gpu-1").click()
        expect(card).to_contain_text("No models loaded.")
        expect(card.get_by_role("meter", name="Memory for models")).to_have_attribute(
            "aria-valuenow", "0"
        )

        named_demo = page.get_by_role("rowheader", name=re.compile("^demo"))
        demo = catalogue.get_by_role("row").filter(has=named_demo)
        demo.get_by_label("Instances of demo kept warm").fill("1")
        demo.get_by_role("button", name="Pin demo").click()
        kept_warm = page.get_by_role("status").filter(has_text="demo is kept warm (1).")
        expect(kept_warm).to_be_visible()
        expect(demo.get_by_role("button", name="Unpin demo")).to_be_visible()
        expect(card.get_by_role("button", name="Unload demo on gpu-1")).to_be_visible()
        page.once("dialog", lambda dialog: dialog.accept())
        demo.get_by_role("button", name="Delete demo").click()
        expect(demo).to_have_count(0)
        expect(card).to_contain_text("No models loaded.")

        page.once("dialog", lambda dialog: dialog.accept())
        row.get_by_role("button", name="Revoke gpu-1").click()
        expect(row).to_contain_text("Revoked")
        expect(card).to_have_count(0)
        expect(local).to_be_visible()
    finally:
        runner.stop()


def test_one_memory_bar_per_gpu_in_light_and_dark(page: Page, server: LiveServer) -> None:
    """No GPU here: the browser adds two to the server's real answer for the local runner."""

    def with_gpus(route: Route) -> None:
        answer = route.fetch()
        runners = answer.json()
        for runner in runners:
            if runner["name"] == "local":
                runner["gpus"] = [
                    gpu(0, "NVIDIA H100 80GB HBM3", used=60 * GIB, total=80 * GIB),
                    gpu(1, "NVIDIA L4", used=2 * GIB, total=24 * GIB),
                ]
        route.fulfill(response=answer, body=json.dumps(runners))

    page.route(f"{server.url}/api/v1/runners", with_gpus)
    open_runners_page(page, server)
    local = page.get_by_role("article", name="local")
    expect(local.get_by_role("meter")).to_have_count(3)
    h100 = local.get_by_role("meter", name="GPU 0: NVIDIA H100 80GB HBM3")
    expect(h100).to_have_attribute("aria-valuetext", "60 GiB of 80 GiB used (75%)")
    expect(h100).to_have_attribute("aria-valuemax", str(80 * GIB))
    l4 = local.get_by_role("meter", name="GPU 1: NVIDIA L4")
    expect(l4).to_have_attribute("aria-valuetext", "2 GiB of 24 GiB used (8%)")
    expect(local).to_contain_text("2 GiB of 24 GiB")
    fill = h100.locator(".meter-fill")
    box, track = fill.bounding_box(), h100.bounding_box()
    assert box is not None and track is not None
    assert 0.7 < box["width"] / track["width"] < 0.8  # the bar is drawn (CSP allows it)

    light = local.evaluate("card => getComputedStyle(card).backgroundColor")
    page.emulate_media(color_scheme="dark")
    dark = local.evaluate("card => getComputedStyle(card).backgroundColor")
    assert (light, dark) == ("rgb(255, 255, 255)", "rgb(28, 30, 34)")


def gpu(index: int, name: str, *, used: int, total: int) -> dict[str, object]:
    return {
        "index": index,
        "name": name,
        "memory_total": total,
        "memory_used": used,
        "uuid": f"GPU-{index}",
    }
