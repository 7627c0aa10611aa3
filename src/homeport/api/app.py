"""The application factory. Nothing happens at import; `create_app(settings)` builds it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from homeport import __version__
from homeport.api.errors import install_error_handlers
from homeport.api.middleware import BodyLimitMiddleware, MetricsMiddleware
from homeport.api.routers import (
    api_calls,
    apply,
    apps,
    audit,
    auth,
    connections,
    device,
    evals,
    feedback,
    health,
    knowledge,
    openai,
    orgs,
    providers,
    runners,
    secrets,
    sessions,
    sharing,
    sso,
    users,
)
from homeport.api.routers import settings as server_settings
from homeport.api.routers import usage as usage_routes
from homeport.api.web import mount_web
from homeport.observability.metrics import Metrics
from homeport.services.container import Services, build_services
from homeport.settings import Settings

log = logging.getLogger(__name__)


def create_app(
    settings: Settings, *, services: Services | None = None, access_log: bool = True
) -> FastAPI:
    """The ASGI app. Tests may pass their own `services`; otherwise the lifespan builds them."""
    metrics = services.metrics if services is not None else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with _services(settings, services, metrics) as ready:
            app.state.services = ready
            tasks = _background(ready)
            _settle_garbage_collector()
            log.info("Homeport %s is serving on %s", __version__, settings.resolved_public_url)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    app = FastAPI(
        title="Homeport",
        version=__version__,
        description="A private, self-hosted generative-AI platform. "
        "OpenAI-compatible under /v1, REST under /api/v1.",
        lifespan=lifespan,
    )
    if services is not None:
        app.state.services = services
    install_error_handlers(app)
    for module in (health, openai, auth, users, providers, sessions, apply, audit, server_settings):
        app.include_router(module.router)
    for module in (sso, device, feedback):
        app.include_router(module.router)
    app.include_router(usage_routes.router)
    for module in (orgs, sharing, runners, knowledge, secrets, apps, connections, api_calls):
        app.include_router(module.router)
    for module in (evals,):
        app.include_router(module.router)
    mount_web(app)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        upload_limit=settings.upload_max_bytes,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics, access_log=access_log)
    return app


@asynccontextmanager
async def _services(
    settings: Settings, given: Services | None, metrics: Metrics
) -> AsyncIterator[Services]:
    if given is not None:
        yield given
        return
    async with build_services(settings, metrics=metrics) as built:
        yield built


def _settle_garbage_collector() -> None:
    """Freeze what start-up built and collect less often.

    Requests make no reference cycles, but under load the objects of requests in flight
    survive into older generations and trigger full collections over everything start-up
    allocated (~70 ms pauses, a quarter of the CPU at 32 connections). Frozen objects are
    never scanned again.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def _background(services: Services) -> list[asyncio.Task[None]]:
    return [asyncio.create_task(services.providers.refresh_forever(), name="model-refresh")]
