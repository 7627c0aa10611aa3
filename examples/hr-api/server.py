"""A small HR API for the job-vacancies example app: `python examples/hr-api/server.py`.

Serves its OpenAPI spec (examples/apps/hr-openapi.json) at /openapi.json and answers from
fixed lists:

    GET /jobs?department=&location=   open vacancies          the service token or a user's
    GET /jobs/{jobId}                 one vacancy, in full    the service token or a user's
    GET /candidates?jobId=            candidates              a user's own token only
    GET /me                           the caller              a user's own token only

Each recruiter sees only the candidates of the vacancies they recruit for, so the API must
be called with the asking user's own token, never a shared one. The service token is the
HR_API_TOKEN environment variable (no check of it when unset). Users' tokens are the
personal tokens in HR_USER_TOKENS (`token=login,token=login`) and, with `--introspect URL`,
OAuth2 access tokens that the company's authorization server confirms (RFC 7662).
"""

from __future__ import annotations

import argparse
import base64
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

JOBS = [
    {
        "id": "eng-1",
        "title": "Backend engineer",
        "department": "engineering",
        "location": "Brekka (hybrid)",
        "salary_range": "620-720k NOK",
        "description": "Build the booking system for the harbour's ferries. Python, PostgreSQL.",
    },
    {
        "id": "harbour-2",
        "title": "Ferry deckhand",
        "department": "harbour",
        "location": "Brekka harbour",
        "salary_range": "450-500k NOK",
        "description": "Mooring, loading and safety drills on the island ferry. Boat licence.",
    },
    {
        "id": "office-3",
        "title": "Office manager",
        "department": "office",
        "location": "Brekka",
        "salary_range": "520-580k NOK",
        "description": "Run the harbour office: suppliers, schedules and visitors.",
    },
    {
        "id": "eng-4",
        "title": "Data engineer",
        "department": "engineering",
        "location": "Bristol",
        "salary_range": "GBP 55-65k",
        "description": "Pipelines for ferry bookings and freight data, in our Bristol office.",
    },
    {
        "id": "sales-5",
        "title": "Freight sales manager",
        "department": "sales",
        "location": "Bristol",
        "salary_range": "GBP 48-58k plus commission",
        "description": "Sell freight capacity on the Bristol Channel routes.",
    },
]
RECRUITERS = {
    "alice": {"login": "alice", "name": "Alice Berg", "recruits_for": ["eng-1", "eng-4"]},
    "bob": {"login": "bob", "name": "Bob Dahl", "recruits_for": ["harbour-2", "office-3"]},
}
CANDIDATES = [
    {"name": "Ingrid Lie", "job_id": "eng-1", "stage": "interview", "applied_on": "2026-10-02"},
    {"name": "Tom Hughes", "job_id": "eng-4", "stage": "applied", "applied_on": "2026-11-12"},
    {"name": "Kari Nes", "job_id": "harbour-2", "stage": "offer", "applied_on": "2026-09-20"},
    {"name": "Ola Strand", "job_id": "office-3", "stage": "applied", "applied_on": "2026-11-01"},
]
SPEC = Path(__file__).parent.parent / "apps" / "hr-openapi.json"
LIST_FIELDS = ("id", "title", "department", "location")

# A function from a bearer token to the login it belongs to (None: not a user's token).
Identify = Callable[[str], Awaitable[str | None]]

USER = web.RequestKey("user", str)  # the caller's login


def create_app(
    token: str | None = None,
    *,
    user_tokens: Mapping[str, str] | None = None,
    introspect: Identify | None = None,
) -> web.Application:
    """The API; `token` is the service token, `user_tokens` maps personal tokens to logins,
    `introspect` asks an authorization server about other tokens."""
    identify = _identify(dict(user_tokens or {}), introspect)
    app = web.Application(middlewares=[_auth(token, identify)])
    app.router.add_get("/openapi.json", _spec)
    app.router.add_get("/jobs", _list)
    app.router.add_get("/jobs/{job_id}", _get)
    app.router.add_get("/candidates", _candidates)
    app.router.add_get("/me", _me)
    return app


def _identify(tokens: dict[str, str], introspect: Identify | None) -> Identify:
    async def identify(bearer: str) -> str | None:
        if bearer in tokens:
            return tokens[bearer]
        return await introspect(bearer) if introspect is not None else None

    return identify


def introspector(url: str, client_id: str, client_secret: str) -> Identify:
    """Ask the authorization server at `url` (RFC 7662) whose token it is."""

    async def identify(bearer: str) -> str | None:
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data={"token": bearer}, headers=headers) as response,
        ):
            if response.status != 200:
                return None
            answer = await response.json()
        return str(answer["sub"]) if answer.get("active") and answer.get("sub") else None

    return identify


def _auth(service_token: str | None, identify: Identify) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/openapi.json":
            response: web.StreamResponse = await handler(request)
            return response
        header = request.headers.get("Authorization", "")
        bearer = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        user = await identify(bearer) if bearer else None
        if user is not None:
            request[USER] = user
        elif not _service_route(request.path):
            return _unauthorized("this needs your own token")
        elif service_token is not None and bearer != service_token:
            return _unauthorized("no valid token")
        response = await handler(request)
        return response

    return check


def _service_route(path: str) -> bool:
    return path == "/jobs" or path.startswith("/jobs/")


def _unauthorized(message: str) -> web.Response:
    return web.json_response({"error": message}, status=401)


async def _spec(request: web.Request) -> web.Response:
    return web.Response(text=SPEC.read_text(), content_type="application/json")


async def _list(request: web.Request) -> web.Response:
    department = request.query.get("department")
    location = request.query.get("location", "").strip().lower()
    jobs = [
        j
        for j in JOBS
        if department in (None, j["department"]) and location in j["location"].lower()
    ]
    return web.json_response([{k: j[k] for k in LIST_FIELDS} for j in jobs])


async def _get(request: web.Request) -> web.Response:
    for job in JOBS:
        if job["id"] == request.match_info["job_id"]:
            return web.json_response(job)
    return web.json_response({"error": "no such job"}, status=404)


async def _candidates(request: web.Request) -> web.Response:
    mine = RECRUITERS.get(request[USER], {}).get("recruits_for", [])
    wanted = request.query.get("jobId")
    return web.json_response(
        [c for c in CANDIDATES if c["job_id"] in mine and wanted in (None, c["job_id"])]
    )


async def _me(request: web.Request) -> web.Response:
    login = request[USER]
    return web.json_response(
        RECRUITERS.get(login, {"login": login, "name": login, "recruits_for": []})
    )


def _user_tokens(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {token.strip(): login.strip() for token, login in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--introspect", help="The authorization server's introspection URL.")
    parser.add_argument("--client-id", default="hr-api")
    parser.add_argument("--client-secret", default=os.environ.get("HR_CLIENT_SECRET", ""))
    args = parser.parse_args()
    introspect = (
        introspector(args.introspect, args.client_id, args.client_secret)
        if args.introspect
        else None
    )
    app = create_app(
        os.environ.get("HR_API_TOKEN"),
        user_tokens=_user_tokens(os.environ.get("HR_USER_TOKENS", "")),
        introspect=introspect,
    )
    web.run_app(app, host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
