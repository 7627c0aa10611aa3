"""A small HR API for the job-vacancies example app: `python examples/hr-api/server.py`.

Serves its OpenAPI spec (examples/apps/hr-openapi.json) at /openapi.json and answers /jobs
and /jobs/{jobId} from a fixed list. It asks for `Authorization: Bearer <token>` when the
HR_API_TOKEN environment variable is set.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

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
]
SPEC = Path(__file__).parent.parent / "apps" / "hr-openapi.json"


def create_app(token: str | None = None) -> web.Application:
    app = web.Application(middlewares=[_auth(token)] if token else [])
    app.router.add_get("/openapi.json", _spec)
    app.router.add_get("/jobs", _list)
    app.router.add_get("/jobs/{job_id}", _get)
    return app


def _auth(token: str) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Any) -> web.StreamResponse:
        allowed = request.headers.get("Authorization") == f"Bearer {token}"
        if request.path != "/openapi.json" and not allowed:
            return web.json_response({"error": "unauthorized"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    return check


async def _spec(request: web.Request) -> web.Response:
    return web.Response(text=SPEC.read_text(), content_type="application/json")


async def _list(request: web.Request) -> web.Response:
    department = request.query.get("department")
    jobs = [j for j in JOBS if department in (None, j["department"])]
    fields = ("id", "title", "department", "location")
    return web.json_response([{k: j[k] for k in fields} for j in jobs])


async def _get(request: web.Request) -> web.Response:
    for job in JOBS:
        if job["id"] == request.match_info["job_id"]:
            return web.json_response(job)
    return web.json_response({"error": "no such job"}, status=404)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    web.run_app(create_app(os.environ.get("HR_API_TOKEN")), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
