"""The runner: holds model instances and serves the requests the control plane sends it.

`Runner.session` speaks the protocol over one channel; `connect` keeps a remote runner
connected (WebSocket out to the control plane, through proxies, TLS for https, reconnecting
with backoff). Loaded instances survive a reconnect: the next `hello` reports them, so a
restarted control plane uses them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from homeport import __version__
from homeport.domain.chat import ChatDelta
from homeport.domain.runners import Hardware, ModelSpec
from homeport.errors import AuthenticationFailed, HomeportError, UpstreamUnavailable
from homeport.runners import protocol
from homeport.runners.engines.base import Engine, create_engine
from homeport.runners.protocol import Message
from homeport.runners.transport import AiohttpChannel, Channel, ChannelClosed

log = logging.getLogger(__name__)

CONNECT_PATH = "/api/v1/runners/connect"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass(eq=False, slots=True)
class Hosted:
    """An instance this runner holds."""

    id: str
    spec: ModelSpec
    engine: Engine | None = None
    state: str = "loading"
    task: asyncio.Task[None] | None = None


class Runner:
    def __init__(
        self,
        *,
        name: str,
        engines: dict[str, str],
        capacity: int,
        hardware: Callable[[], Hardware],
    ):
        self.name = name
        self.engines = engines
        self.capacity = capacity
        self._hardware = hardware
        self.instances: dict[str, Hosted] = {}
        self._requests: dict[str, asyncio.Task[None]] = {}
        self._serving: dict[str, str] = {}  # request id -> instance id
        self._channel: Channel | None = None
        self.runner_id: str | None = None
        self.connected = asyncio.Event()

    # -- one connection ----------------------------------------------------------------------

    async def session(self, channel: Channel) -> None:
        """Say hello, then serve messages until the channel closes."""
        await channel.send(self._hello())
        welcome = await channel.receive()
        if welcome.get("type") != "welcome":
            raise ChannelClosed(f"expected welcome, got {welcome.get('type')}")
        self.runner_id = welcome.get("runner_id")
        self._channel = channel
        self.connected.set()
        beats = asyncio.create_task(self._heartbeats(channel, welcome.get("heartbeat_seconds")))
        try:
            while True:
                self._dispatch(await channel.receive())
        finally:
            self.connected.clear()
            self._channel = None
            beats.cancel()
            for task in self._requests.values():
                task.cancel()

    def _hello(self) -> Message:
        return {
            "type": "hello",
            "protocol": protocol.PROTOCOL_VERSION,
            "name": self.name,
            "version": __version__,
            "hardware": self._hardware().to_wire(),
            "engines": self.engines,
            "capacity": self.capacity,
            "instances": [
                {
                    "id": h.id,
                    "model": h.spec.name,
                    "state": h.state,
                    "memory_bytes": h.engine.memory_bytes if h.engine else 0,
                }
                for h in self.instances.values()
            ],
        }

    async def _heartbeats(self, channel: Channel, interval: Any) -> None:
        seconds = float(interval or 5.0)
        with contextlib.suppress(ChannelClosed):
            while True:
                await asyncio.sleep(seconds)
                hardware = await asyncio.to_thread(self._hardware)
                await channel.send({"type": "heartbeat", "hardware": hardware.to_wire()})

    def _dispatch(self, message: Message) -> None:
        kind = message["type"]
        if kind == "load":
            self._load(str(message["instance"]), ModelSpec.from_wire(message["model"]))
        elif kind == "unload":
            self._track(f"unload:{message['instance']}", self._unload(str(message["instance"])))
        elif kind in ("chat", "complete", "embed"):
            self._track(str(message["id"]), self._serve(message))
            self._serving[str(message["id"])] = str(message["instance"])
        elif kind == "cancel" and (task := self._requests.get(str(message["id"]))):
            task.cancel()

    def _track(self, key: str, work: Any) -> None:
        task = asyncio.create_task(work)
        self._requests[key] = task
        task.add_done_callback(lambda _: self._untrack(key))

    def _untrack(self, key: str) -> None:
        self._requests.pop(key, None)
        self._serving.pop(key, None)

    async def _send(self, message: Message) -> None:
        """Send on the current connection; a message for a lost one is dropped."""
        if self._channel is not None:
            with contextlib.suppress(ChannelClosed):
                await self._channel.send(message)

    # -- instances ---------------------------------------------------------------------------

    def _load(self, instance_id: str, spec: ModelSpec) -> None:
        if instance_id in self.instances:
            return
        hosted = Hosted(instance_id, spec)
        self.instances[instance_id] = hosted
        hosted.task = asyncio.create_task(self._load_engine(hosted))

    async def _load_engine(self, hosted: Hosted) -> None:
        loop = asyncio.get_running_loop()

        def progress(message: str, fraction: float) -> None:
            update = {
                "type": "load_progress",
                "instance": hosted.id,
                "message": message,
                "fraction": fraction,
            }
            loop.call_soon_threadsafe(lambda: loop.create_task(self._send(update)))

        try:
            hosted.engine = create_engine(hosted.spec)
            await hosted.engine.load(progress)
        except Exception as exc:
            log.error("could not load %s: %s", hosted.spec.name, exc)
            self.instances.pop(hosted.id, None)
            await self._send(
                {"type": "load_failed", "instance": hosted.id, "error": protocol.error_to_wire(exc)}
            )
            return
        hosted.state = "ready"
        log.info("loaded %s as %s", hosted.spec.name, hosted.id)
        await self._send(
            {"type": "loaded", "instance": hosted.id, "memory_bytes": hosted.engine.memory_bytes}
        )

    async def _unload(self, instance_id: str) -> None:
        """Unload an instance; requests it still serves end with an error."""
        hosted = self.instances.pop(instance_id, None)
        for request_id in [r for r, i in self._serving.items() if i == instance_id]:
            self._requests[request_id].cancel()
            gone = UpstreamUnavailable(f"instance {instance_id} was unloaded", code="instance_gone")
            await self._send(
                {"type": "error", "id": request_id, "error": protocol.error_to_wire(gone)}
            )
        if hosted is not None:
            if hosted.task is not None and not hosted.task.done():
                hosted.task.cancel()
            if hosted.engine is not None:
                await hosted.engine.unload()
            log.info("unloaded %s (%s)", hosted.spec.name, instance_id)
        await self._send({"type": "unloaded", "instance": instance_id})

    async def close(self) -> None:
        for instance_id in list(self.instances):
            await self._unload(instance_id)

    # -- requests ----------------------------------------------------------------------------

    async def _serve(self, message: Message) -> None:
        request_id = message["id"]
        try:
            engine = self._engine(str(message["instance"]))
            if message["type"] == "embed":
                result = await engine.embed(message["texts"], input_type=message.get("input_type"))
                await self._send(
                    {
                        "type": "result",
                        "id": request_id,
                        "result": protocol.embedding_to_wire(result),
                    }
                )
            else:
                async for delta in _stream(engine, message):
                    await self._send(
                        {"type": "delta", "id": request_id, "delta": protocol.delta_to_wire(delta)}
                    )
            await self._send({"type": "end", "id": request_id})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not isinstance(exc, HomeportError):
                log.exception("request %s failed", request_id)
            await self._send(
                {"type": "error", "id": request_id, "error": protocol.error_to_wire(exc)}
            )

    def _engine(self, instance_id: str) -> Engine:
        hosted = self.instances.get(instance_id)
        if hosted is None or hosted.engine is None or hosted.state != "ready":
            raise UpstreamUnavailable(
                f"instance {instance_id} is not loaded on runner {self.name}", code="instance_gone"
            )
        return hosted.engine


async def _stream(engine: Engine, message: Message) -> AsyncIterator[ChatDelta]:
    if message["type"] == "chat":
        stream = engine.chat_stream(protocol.chat_request_from_wire(message["request"]))
    else:
        stream = engine.complete_stream(protocol.completion_request_from_wire(message["request"]))
    try:
        async for delta in stream:
            yield delta
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


# -- a remote runner's connection --------------------------------------------------------------


def websocket_url(control_plane: str) -> str:
    base = control_plane.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + CONNECT_PATH


class Backoff:
    """Exponential backoff with full jitter: 0.5 s doubling up to `ceiling`."""

    def __init__(self, first: float = 0.5, ceiling: float = 30.0):
        self.first, self.ceiling = first, ceiling
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.ceiling, self.first * 2**self.attempt)
        self.attempt += 1
        return random.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.attempt = 0


def proxy_for(control_plane: str) -> str | None:
    """The proxy for the control plane's URL under the usual rules: HTTPS_PROXY for https,
    HTTP_PROXY for http, none for hosts in NO_PROXY (read by urllib)."""
    parts = urlsplit(control_plane)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def connect(runner: Runner, control_plane: str, token: str) -> None:
    """Stay connected to the control plane until cancelled; a rejected token ends it."""
    url = websocket_url(control_plane)
    proxy = proxy_for(control_plane)
    backoff = Backoff()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.ws_connect(
                    url,
                    headers=headers,
                    heartbeat=20,
                    max_msg_size=MAX_MESSAGE_BYTES,
                    proxy=proxy,
                ) as ws:
                    log.info("connected to %s%s", url, f" through {proxy}" if proxy else "")
                    backoff.reset()
                    await runner.session(AiohttpChannel(ws))
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    raise AuthenticationFailed(
                        f"the control plane refused the runner token ({exc.status})"
                    ) from exc
                log.warning("control plane at %s refused the connection: %s", url, exc.status)
            except (aiohttp.ClientError, OSError, ChannelClosed) as exc:
                log.warning("lost the control plane at %s: %s", url, exc)
            delay = backoff.next()
            log.info("reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)
