"""Serving the web UI: the built files, the SPA fallback, caching, and the API left alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from homeport.api.errors import install_error_handlers
from homeport.api.web import mount_web

INDEX = '<!doctype html><html><body><div id="root"></div></body></html>'


def web_client(dist: Path) -> httpx.AsyncClient:
    """An app with only the UI mounted, serving `dist` (a stand-in for a Vite build)."""
    app = FastAPI()
    install_error_handlers(app)
    mount_web(app, dist=dist)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://homeport")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-Ab12Cd34.js").write_text("console.log('hi')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


@pytest.mark.anyio
async def test_index_and_the_spa_fallback_are_revalidated(dist: Path) -> None:
    async with web_client(dist) as client:
        for path in ("/", "/index.html", "/chat/ses_123", "/some/deep/page"):
            response = await client.get(path)
            assert response.status_code == 200, path
            assert response.text == INDEX, path
            assert response.headers["content-type"].startswith("text/html")
            assert response.headers["cache-control"] == "no-cache"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        head = await client.head("/chat/ses_123")
        assert head.status_code == 200
        assert head.content == b""


@pytest.mark.anyio
async def test_hashed_assets_are_cached_for_good_and_missing_ones_are_404(dist: Path) -> None:
    async with web_client(dist) as client:
        asset = await client.get("/assets/index-Ab12Cd34.js")
        assert asset.status_code == 200
        assert asset.text == "console.log('hi')"
        assert "javascript" in asset.headers["content-type"]
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        revalidated = await client.get(
            "/assets/index-Ab12Cd34.js", headers={"If-None-Match": asset.headers["etag"]}
        )
        assert revalidated.status_code == 304

        missing = await client.get("/assets/index-Old99999.js")
        assert missing.status_code == 404
        assert missing.json()["error"]["type"] == "not_found_error"

        icon = await client.get("/favicon.svg")
        assert icon.status_code == 200
        assert icon.headers["cache-control"] == "no-cache"


@pytest.mark.anyio
async def test_files_outside_the_build_are_not_served(dist: Path) -> None:
    (dist.parent / "secret.txt").write_text("do not serve")
    async with web_client(dist) as client:
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"):
            response = await client.get(path)
            assert "do not serve" not in response.text, path


@pytest.mark.anyio
async def test_without_a_build_the_page_says_how_to_build_it(tmp_path: Path) -> None:
    async with web_client(tmp_path / "missing") as client:
        for path in ("/", "/chat/ses_123"):
            response = await client.get(path)
            assert response.status_code == 200
            assert "make web" in response.text
            assert response.headers["cache-control"] == "no-cache"


@pytest.mark.anyio
async def test_the_api_paths_are_never_answered_by_the_ui(client: httpx.AsyncClient) -> None:
    """With the real app: unknown API paths stay JSON errors, wrong methods stay 405."""
    for path in ("/v1/nope", "/v1", "/api", "/api/v1/nope", "/healthz/x", "/metrics/x"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found_error", path
    posted = await client.post("/v1/nope", json={})
    assert posted.status_code == 404
    assert (await client.post("/chat/x", json={})).status_code == 404
    wrong_method = await client.delete("/api/v1/me")
    assert wrong_method.status_code == 405

    assert (await client.get("/healthz")).json()["status"] == "ok"
    assert (await client.get("/v1/models")).json()["object"] == "list"
    assert "openapi" in (await client.get("/openapi.json")).json()
    assert "swagger" in (await client.get("/docs")).text.lower()
    page = await client.get("/chat/ses_123", headers={"Authorization": ""})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


def test_the_ui_is_not_in_the_openapi_schema() -> None:
    from homeport.api.schema import openapi_schema

    paths = openapi_schema()["paths"]
    assert "/{path}" not in paths
    assert all(
        path.startswith(("/v1/", "/api/v1/", "/healthz", "/readyz", "/metrics")) for path in paths
    )
