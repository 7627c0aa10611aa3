"""Running the server: settings, logging, uvicorn with uvloop and httptools."""

from __future__ import annotations

import logging

import uvicorn

from homeport.api.app import create_app
from homeport.observability.logging import configure_logging
from homeport.settings import Settings, load_settings

log = logging.getLogger(__name__)


def run(
    *, host: str | None = None, port: int | None = None, settings: Settings | None = None
) -> None:
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings or load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings, access_log=settings.access_log)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
