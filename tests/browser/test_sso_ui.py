"""Single sign-on in a real browser: Homeport's sign-in page, a real OpenID provider's
sign-in form (oidc-provider-mock), and back, signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer, live_server

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with run_server_in_thread() as provider:
        issuer = f"http://localhost:{provider.server_port}"
        claims = {"email": "rita@example.com", "name": "Rita Levi", "preferred_username": "rita"}
        assert httpx.put(f"{issuer}/users/rita-sub", json=claims).status_code == 204
        live = live_server(
            tmp_path,
            oidc_issuer=issuer,
            oidc_client_id="homeport",
            oidc_client_secret="client-secret",
            oidc_label="Sign in with Example",
        )
        yield live
        live.stop()


def test_sign_in_with_sso_from_the_sign_in_page(page: Page, server: LiveServer) -> None:
    page.goto(server.url)
    page.get_by_role("link", name="Sign in with Example").click()
    # The provider's own form: sign in there as Rita.
    page.get_by_placeholder("sub").fill("rita-sub")
    page.get_by_role("button", name="Authorize").click()

    expect(page.get_by_label("Signed in as")).to_have_text("Rita Levi")
    page.reload()  # the session cookie keeps her signed in
    expect(page.get_by_label("Signed in as")).to_have_text("Rita Levi")
