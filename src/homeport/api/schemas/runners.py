"""Bodies of the runner, model catalogue and scheduler routes (/api/v1)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from homeport.api.schemas.rest import Strict
from homeport.db.repositories.runners import RunnerToken
from homeport.domain.runners import Gpu, ModelSpec
from homeport.scheduler.scheduler import Decision, Instance, RunnerState
from homeport.services.runners import ModelEntry


class GpuOut(BaseModel):
    index: int
    name: str
    memory_total: int
    memory_used: int
    uuid: str | None

    @classmethod
    def of(cls, gpu: Gpu) -> GpuOut:
        return cls(
            index=gpu.index,
            name=gpu.name,
            memory_total=gpu.memory_total,
            memory_used=gpu.memory_used,
            uuid=gpu.uuid,
        )


class InstanceOut(BaseModel):
    id: str
    model: str
    runner: str
    state: Literal["loading", "ready", "unloading", "failed"]
    memory_bytes: int
    active: int
    concurrency: int
    served: int
    idle_seconds: float
    progress: float
    message: str

    @classmethod
    def of(cls, instance: Instance) -> InstanceOut:
        return cls(
            id=instance.id,
            model=instance.spec.name,
            runner=instance.runner.name,
            state=instance.state,
            memory_bytes=instance.memory_bytes,
            active=instance.active,
            concurrency=instance.spec.concurrency,
            served=instance.served,
            idle_seconds=round(time.monotonic() - instance.last_used, 1),
            progress=instance.progress,
            message=instance.message,
        )


class RunnerOut(BaseModel):
    id: str
    name: str
    version: str
    hostname: str
    platform: str
    cpu_count: int
    memory_total: int
    gpus: list[GpuOut]
    engines: dict[str, str]
    capacity: int = Field(description="Memory offered for models, in bytes")
    used: int = Field(description="Memory held by its instances (loading ones included)")
    connected_at: datetime
    last_seen_seconds: float
    instances: list[InstanceOut]

    @classmethod
    def of(cls, runner: RunnerState) -> RunnerOut:
        hardware = runner.hardware
        return cls(
            id=runner.id,
            name=runner.name,
            version=runner.version,
            hostname=hardware.hostname,
            platform=hardware.platform,
            cpu_count=hardware.cpu_count,
            memory_total=hardware.memory_total,
            gpus=[GpuOut.of(g) for g in hardware.gpus],
            engines=runner.engines,
            capacity=runner.capacity,
            used=runner.used,
            connected_at=runner.connected_at,
            last_seen_seconds=round(time.monotonic() - runner.last_seen, 1),
            instances=[InstanceOut.of(i) for i in runner.instances.values()],
        )


class RunnerTokenIn(Strict):
    name: str = Field(min_length=1, max_length=64, description="The runner this token is for")


class RunnerTokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    connected: bool
    token: str | None = Field(default=None, description="Only in the answer that creates it")
    control_plane: str | None = Field(
        default=None, description="The URL runners should dial (HOMEPORT_PUBLIC_URL), when set"
    )

    @classmethod
    def of(
        cls, token: RunnerToken, *, connected: bool, secret: str | None = None
    ) -> RunnerTokenOut:
        return cls(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            revoked_at=token.revoked_at,
            last_used_at=token.last_used_at,
            connected=connected,
            token=secret,
        )


class ModelOut(BaseModel):
    name: str
    id: str = Field(description="The id to use with /v1, e.g. local/qwen2.5-7b")
    engine: str
    weights: str | None
    type: Literal["chat", "base", "embedding"]
    context_length: int | None
    memory_bytes: int
    concurrency: int
    min_instances: int
    runners: list[str]
    options: dict[str, Any]
    source: str
    instances: list[InstanceOut]

    @classmethod
    def of(cls, entry: ModelEntry) -> ModelOut:
        spec: ModelSpec = entry.spec
        return cls(
            name=spec.name,
            id=spec.info().id,
            engine=spec.engine,
            weights=spec.weights,
            type=spec.kind,
            context_length=spec.context_length,
            memory_bytes=spec.memory_bytes,
            concurrency=spec.concurrency,
            min_instances=spec.min_instances,
            runners=list(spec.runners),
            options=spec.options,
            source=entry.source,
            instances=[InstanceOut.of(i) for i in entry.instances],
        )


class PinIn(Strict):
    min_instances: int = Field(ge=0, le=64, description="Instances kept warm; 0 unpins")


class WarmIn(Strict):
    model: str
    runner: str | None = Field(default=None, description="A runner's name; default: placed")


class DecisionOut(BaseModel):
    at: datetime
    action: str
    detail: str
    model: str | None
    runner: str | None
    instance: str | None

    @classmethod
    def of(cls, decision: Decision) -> DecisionOut:
        return cls(
            at=decision.at,
            action=decision.action,
            detail=decision.detail,
            model=decision.model,
            runner=decision.runner,
            instance=decision.instance,
        )
