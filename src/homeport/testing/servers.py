"""Run an aiohttp application as a real local HTTP server in a background thread.

Tests talk to it over a real socket, exactly as Homeport talks to an upstream provider::

    with BackgroundServer(app) as server:
        httpx.get(server.url + "/v1/models")

The server owns a dedicated thread and event loop, so it works from synchronous tests and
from tests that run their own event loop alike.
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Self

from aiohttp import web

__all__ = ["BackgroundServer"]

_START_TIMEOUT = 10.0


class BackgroundServer:
    """An `aiohttp.web.Application` listening on 127.0.0.1, on a free port, in its own thread.

    `port` 0 picks a free port; pass a former server's port to bring an upstream "back up" at
    the same address. On stop, in-flight requests get `shutdown_timeout` seconds to finish
    before they are cancelled. An aiohttp application is bound to the loop that first ran it,
    so each server needs an application that has never run.
    """

    def __init__(
        self,
        app: web.Application,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        shutdown_timeout: float = 0.5,
    ) -> None:
        self._app = app
        self._host = host
        self._requested_port = port
        self._shutdown_timeout = shutdown_timeout
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: Exception | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on; only known once started."""
        if self._port is None:
            raise RuntimeError("the server is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self._host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._port is not None

    def start(self) -> Self:
        """Start listening; returns once the socket accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server was already started")
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(
            target=self._run, name=f"homeport-testing-server-{id(self):x}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT):
            raise RuntimeError("the background server did not start in time")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("the background server failed to start") from self._error
        return self

    def stop(self) -> None:
        """Stop serving, finish (or cancel) in-flight requests and join the thread."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and thread.is_alive():
            loop.call_soon_threadsafe(stopping.set)
        thread.join(self._shutdown_timeout + _START_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("the background server did not stop in time")
        self._thread = None
        self._port = None

    def __enter__(self) -> Self:
        return self if self.running else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        runner = web.AppRunner(
            self._app, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        try:
            await runner.setup()
            await web.TCPSite(runner, self._host, self._requested_port).start()
            self._port = int(runner.addresses[0][1])
        except Exception as exc:  # handed to start(), which raises it in the caller's thread
            self._error = exc
            self._ready.set()
            await runner.cleanup()
            return
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()
