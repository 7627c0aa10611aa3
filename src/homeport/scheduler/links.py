"""The control plane's end of one runner connection.

The scheduler talks to a runner only through `RunnerLink`: start a stream, load, unload.
With several control-plane replicas, a link to a runner connected to another replica would
carry the same calls over a message bus; nothing above this module would change.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncGenerator
from typing import Any

from homeport.domain.runners import ModelSpec
from homeport.errors import RunnerLost
from homeport.runners.protocol import Message, error_from_wire
from homeport.runners.transport import Channel, ChannelClosed

_END = {"end", "error"}


class RunnerLink:
    def __init__(self, channel: Channel, *, name: str):
        self.name = name
        self._channel = channel
        self._ids = itertools.count(1)
        self._streams: dict[str, asyncio.Queue[Message | None]] = {}
        self.closed = False

    async def stream(
        self, operation: str, instance_id: str, payload: dict[str, Any]
    ) -> AsyncGenerator[Message, None]:
        """Send a request; yield its `delta`/`result` messages; raise its error.

        Raises `RunnerLost` when the runner goes away before the request ends. A consumer
        that stops early cancels the request on the runner.
        """
        request_id = str(next(self._ids))
        queue: asyncio.Queue[Message | None] = asyncio.Queue()
        self._streams[request_id] = queue
        finished = False
        try:
            await self._send(
                {"type": operation, "id": request_id, "instance": instance_id, **payload}
            )
            while (message := await queue.get()) is not None:
                if message["type"] in _END:
                    finished = True
                    if message["type"] == "error":
                        raise error_from_wire(message.get("error") or {})
                    return
                yield message
            finished = True
            raise RunnerLost(f"runner '{self.name}' disconnected")
        finally:
            self._streams.pop(request_id, None)
            if not finished and not self.closed:
                await self._send_quietly({"type": "cancel", "id": request_id})

    async def load(self, instance_id: str, spec: ModelSpec) -> None:
        await self._send({"type": "load", "instance": instance_id, "model": spec.to_wire()})

    async def unload(self, instance_id: str) -> None:
        await self._send({"type": "unload", "instance": instance_id})

    def deliver(self, message: Message) -> bool:
        """Hand a request's message to its stream; False when it belongs to none."""
        queue = self._streams.get(str(message.get("id")))
        if queue is None:
            return False
        queue.put_nowait(message)
        return True

    def lost(self) -> None:
        """The connection is gone: every open request ends with `RunnerLost`."""
        self.closed = True
        for queue in self._streams.values():
            queue.put_nowait(None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.lost()
        await self._channel.close(code, reason)

    async def _send(self, message: Message) -> None:
        if self.closed:
            raise RunnerLost(f"runner '{self.name}' disconnected")
        try:
            await self._channel.send(message)
        except ChannelClosed as exc:
            self.lost()
            raise RunnerLost(f"runner '{self.name}' disconnected") from exc

    async def _send_quietly(self, message: Message) -> None:
        with contextlib.suppress(RunnerLost):
            await self._send(message)
