"""Liveness, readiness and metrics: the only routes that need no key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from homeport import __version__
from homeport.api.deps import ServicesDep
from homeport.api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready when the database answers; the embedded model's loading is reported too."""
    checks: dict[str, Any] = {"database": await services.db.ping()}
    if (embedded := services.runners.embedded_chat_state()) is not None:
        checks["embedded_model"] = embedded
    ready = checks["database"] == "ok"
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type="text/plain; version=0.0.4")
