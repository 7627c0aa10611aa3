"""Channels: how runner messages travel. A WebSocket for remote runners, a pair of queues
for the runner inside `homeport serve`. Both carry the same encoded messages."""

from __future__ import annotations

import asyncio
from typing import Protocol

import aiohttp

from homeport.runners.protocol import Message, decode, encode


class ChannelClosed(Exception):
    """The other end went away."""


class Channel(Protocol):
    async def send(self, message: Message) -> None: ...

    async def receive(self) -> Message:
        """The next message; raises `ChannelClosed` when the other end is gone."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class AiohttpChannel:
    """The runner's end of a WebSocket (aiohttp client)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self._ws = ws
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        try:
            async with self._lock:
                await self._ws.send_bytes(encode(message))
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as exc:
            raise ChannelClosed(str(exc)) from exc

    async def receive(self) -> Message:
        msg = await self._ws.receive()
        if msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
            return decode(msg.data)
        raise ChannelClosed(f"websocket closed ({self._ws.close_code})")

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code=code, message=reason.encode())


class _QueueEnd:
    def __init__(self, inbox: asyncio.Queue[bytes | None], outbox: asyncio.Queue[bytes | None]):
        self._inbox, self._outbox = inbox, outbox
        self._closed = False

    async def send(self, message: Message) -> None:
        if self._closed:
            raise ChannelClosed("channel closed")
        self._outbox.put_nowait(encode(message))

    async def receive(self) -> Message:
        data = await self._inbox.get()
        if data is None:
            self._closed = True
            raise ChannelClosed("channel closed")
        return decode(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self._closed:
            self._closed = True
            self._outbox.put_nowait(None)
            self._inbox.put_nowait(None)


def memory_pair() -> tuple[Channel, Channel]:
    """Two connected ends: (runner's, control plane's)."""
    a: asyncio.Queue[bytes | None] = asyncio.Queue()
    b: asyncio.Queue[bytes | None] = asyncio.Queue()
    return _QueueEnd(a, b), _QueueEnd(b, a)
