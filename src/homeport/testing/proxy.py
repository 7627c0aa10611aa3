"""A forward HTTP proxy for tests: CONNECT tunnels (https, wss) and absolute-form requests
(http, ws), on 127.0.0.1 in its own thread. It records the targets it was asked for."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from urllib.parse import urlsplit


class ForwardProxy:
    def __init__(self) -> None:
        self.targets: list[str] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ForwardProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    async def _handle(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        head = await client_in.readuntil(b"\r\n\r\n")
        method, target, version = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method == "CONNECT":
            host, port_text = target.rsplit(":", 1)
            port = int(port_text)
            upstream_in, upstream_out = await asyncio.open_connection(host, port)
            client_out.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:
            url = urlsplit(target)
            host, port = url.hostname or "", url.port or 80
            upstream_in, upstream_out = await asyncio.open_connection(host, port)
            path = url.path + (f"?{url.query}" if url.query else "")
            rest = head.split(b"\r\n", 1)[1]
            upstream_out.write(f"{method} {path} {version}\r\n".encode() + rest)
        self.targets.append(f"{method} {host}:{port}")
        await asyncio.gather(_pipe(client_in, upstream_out), _pipe(upstream_in, client_out))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        sink.close()
