"""Browser tests: Debian's chromium driven by Playwright for Python.

Never `playwright install`: the browser is Debian's (`make test` installs it with apt-get).
A failed test leaves a screenshot of its page in test-artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from homeport.api.web import DIST

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[REPORT] = report
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module: while Playwright's sync API is open, its event loop is
    the main thread's running loop, and async tests elsewhere would fail to start theirs."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not on PATH; `make test` installs it")
    if not (DIST / "index.html").is_file():
        pytest.fail(f"the web UI is not built in {DIST}; run `make web`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (no saved key) in light mode; screenshot on failure."""
    context = browser.new_context(viewport={"width": 1100, "height": 750}, color_scheme="light")
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    report = request.node.stash.get(REPORT, None)
    if report is None or report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        opened.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
