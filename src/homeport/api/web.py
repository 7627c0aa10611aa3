"""The web UI: the built single-page app, served at `/` with an SPA fallback.

`make web` (Vite) builds `web/` into `homeport/web_dist/`. Hashed files under `/assets/`
are cached for a year; everything else, `index.html` above all, is revalidated on each load,
so a new build shows at once. Any other GET path answers with `index.html`, so the UI's own
URLs (`/chat/<id>`) survive a reload. The API's paths are never answered here: an unknown
`/v1/...` stays a JSON 404 and a wrong method on an API path stays a 405. No key is needed:
these are public assets, and the UI asks for a key before it calls the API.

Mount it after every API router: it answers any GET path the routers before it did not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DIST = Path(__file__).resolve().parent.parent / "web_dist"
RESERVED = ("/v1", "/api", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")

INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
}

MISSING_BUILD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Homeport</title></head>
<body><main>
<h1>Homeport is running; its web UI is not built</h1>
<p>Build it with <code>make web</code> (needs Node.js 20 and npm), then reload this page.
<code>make run</code> builds it too.</p>
<p>The API works without it: <a href="/docs">/docs</a>.</p>
</main></body></html>
"""


def mount_web(app: FastAPI, *, dist: Path = DIST) -> None:
    """Serve the UI built into `dist` at `/`; call after the API's routers are included."""
    route = _WebRoute(
        "/{path:path}", _serve(dist), methods=["GET", "HEAD"], name="web", include_in_schema=False
    )
    app.router.routes.append(route)


class _WebRoute(Route):
    """GET/HEAD on any path outside the API's; anything else is left to the other routes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        if is_reserved(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


def is_reserved(path: str) -> bool:
    """Whether `path` belongs to the API (or its docs), never to the UI."""
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED)


def _serve(dist: Path) -> Callable[[Request], Awaitable[Response]]:
    files = StaticFiles(directory=dist, check_dir=False)

    async def serve(request: Request) -> Response:
        path = request.path_params["path"] or INDEX
        try:
            return _with_headers(await files.get_response(path, request.scope), path)
        except HTTPException as exc:
            if exc.status_code != 404 or path.startswith("assets/"):
                raise
        try:
            return _with_headers(await files.get_response(INDEX, request.scope), INDEX)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
        return HTMLResponse(MISSING_BUILD, headers={"Cache-Control": REVALIDATE})

    return serve


def _with_headers(response: Response, path: str) -> Response:
    immutable = path.startswith("assets/")
    response.headers["Cache-Control"] = IMMUTABLE if immutable else REVALIDATE
    response.headers["X-Content-Type-Options"] = "nosniff"
    if path.endswith(".html"):
        response.headers.update(HTML_HEADERS)
    return response
