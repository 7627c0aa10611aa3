"""Runners, runner tokens, model instances, the model catalogue and the scheduler's
decisions (admins), and the WebSocket runners dial in to."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, Query, Response, WebSocket, status
from starlette.websockets import WebSocketDisconnect

from homeport.api.deps import RunnersAdmin, ServicesDep
from homeport.api.schemas.runners import (
    DecisionOut,
    InstanceOut,
    ModelOut,
    PinIn,
    RunnerOut,
    RunnerTokenIn,
    RunnerTokenOut,
    WarmIn,
)
from homeport.errors import AuthenticationFailed, NotFound
from homeport.runners.protocol import CLOSE_UNAUTHORIZED, Message, decode, encode
from homeport.runners.transport import ChannelClosed
from homeport.services.container import Services
from homeport.services.runners import ModelInput

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["runners"])


# -- runners -------------------------------------------------------------------------------


@router.get("/runners")
async def list_runners(services: ServicesDep, admin: RunnersAdmin) -> list[RunnerOut]:
    runners = sorted(services.scheduler.runners.values(), key=lambda r: r.name)
    return [RunnerOut.of(r) for r in runners]


@router.get("/runners/{name}")
async def get_runner(name: str, services: ServicesDep, admin: RunnersAdmin) -> RunnerOut:
    runner = next((r for r in services.scheduler.runners.values() if r.name == name), None)
    if runner is None:
        raise NotFound(f"runner '{name}' is not connected", param="name")
    return RunnerOut.of(runner)


@router.get("/runner-tokens")
async def list_runner_tokens(services: ServicesDep, admin: RunnersAdmin) -> list[RunnerTokenOut]:
    connected = {r.id for r in services.scheduler.runners.values()}
    return [
        RunnerTokenOut.of(t, connected=t.id in connected)
        for t in await services.runners.list_tokens()
    ]


@router.post("/runner-tokens", status_code=status.HTTP_201_CREATED)
async def create_runner_token(
    body: RunnerTokenIn, services: ServicesDep, admin: RunnersAdmin
) -> RunnerTokenOut:
    token, secret = await services.runners.create_token(admin, body.name)
    out = RunnerTokenOut.of(token, connected=False, secret=secret)
    out.control_plane = services.settings.public_url
    return out


@router.delete("/runner-tokens/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_runner_token(name: str, services: ServicesDep, admin: RunnersAdmin) -> None:
    await services.runners.revoke_token(admin, name)


# -- instances -----------------------------------------------------------------------------


@router.get("/instances")
async def list_instances(services: ServicesDep, admin: RunnersAdmin) -> list[InstanceOut]:
    return [InstanceOut.of(i) for i in services.scheduler.instances()]


@router.post("/instances", status_code=status.HTTP_202_ACCEPTED)
async def warm_instance(body: WarmIn, services: ServicesDep, admin: RunnersAdmin) -> InstanceOut:
    """Pre-warm: load one more instance of a model (it loads in the background)."""
    return InstanceOut.of(await services.runners.warm(admin, body.model, body.runner))


@router.delete("/instances/{instance_id}", status_code=status.HTTP_204_NO_CONTENT)
async def unload_instance(
    instance_id: str,
    services: ServicesDep,
    admin: RunnersAdmin,
    force: bool = Query(default=False, description="Unload even while it serves requests"),
) -> None:
    """Unload an idle instance (with `force`, a busy one: its requests end with an error)."""
    await services.runners.unload(admin, instance_id, force=force)


# -- the model catalogue -----------------------------------------------------------------------


@router.get("/models")
async def list_catalogue(services: ServicesDep, admin: RunnersAdmin) -> list[ModelOut]:
    return [ModelOut.of(e) for e in services.runners.entries()]


@router.get("/models/{name}")
async def get_model(name: str, services: ServicesDep, admin: RunnersAdmin) -> ModelOut:
    return ModelOut.of(services.runners.entry(name))


@router.put("/models/{name}")
async def put_model(
    name: str, body: ModelInput, response: Response, services: ServicesDep, admin: RunnersAdmin
) -> ModelOut:
    """Create or replace a model in the catalogue (what `kind: Model` applies)."""
    action = await services.runners.put_model(admin, body.spec(name))
    if action == "created":
        response.status_code = status.HTTP_201_CREATED
    return ModelOut.of(services.runners.entry(name))


@router.post("/models/{name}/pin")
async def pin_model(name: str, body: PinIn, services: ServicesDep, admin: RunnersAdmin) -> ModelOut:
    return ModelOut.of(await services.runners.pin(admin, name, body.min_instances))


@router.delete("/models/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_model(name: str, services: ServicesDep, admin: RunnersAdmin) -> None:
    await services.runners.delete_model(admin, name)


@router.get("/scheduler/decisions")
async def decisions(
    services: ServicesDep,
    admin: RunnersAdmin,
    limit: int = Query(default=100, ge=1, le=500),
    model: str | None = None,
) -> list[DecisionOut]:
    """The scheduler's latest decisions, newest first: loads, evictions, queueing, drops."""
    found = [d for d in reversed(services.scheduler.decisions) if model in (None, d.model)]
    return [DecisionOut.of(d) for d in found[:limit]]


# -- the runners' WebSocket ----------------------------------------------------------------------


class StarletteChannel:
    """The control plane's end of a runner's WebSocket."""

    def __init__(self, websocket: WebSocket):
        self._ws = websocket
        self._lock = asyncio.Lock()

    async def send(self, message: Message) -> None:
        try:
            async with self._lock:
                await self._ws.send_bytes(encode(message))
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise ChannelClosed(str(exc)) from exc

    async def receive(self) -> Message:
        message = await self._ws.receive()
        if message["type"] == "websocket.disconnect":
            raise ChannelClosed(f"runner closed the connection ({message.get('code')})")
        data = message.get("bytes") or message.get("text") or b""
        return decode(data)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        with contextlib.suppress(RuntimeError):  # already closed
            await self._ws.close(code, reason)


@router.websocket("/runners/connect")
async def runner_socket(websocket: WebSocket) -> None:
    """Runners dial in here with `Authorization: Bearer <runner token>`."""
    services: Services = websocket.app.state.services
    header = websocket.headers.get("authorization", "")
    try:
        token = await services.runners.authenticate(header.removeprefix("Bearer ").strip())
    except AuthenticationFailed as exc:
        log.warning("refused a runner connection: %s", exc.message)
        await websocket.close(CLOSE_UNAUTHORIZED, exc.message)
        return
    await websocket.accept()
    log.info("runner %s connected", token.name)
    await services.scheduler.serve(StarletteChannel(websocket), runner_id=token.id, name=token.name)
