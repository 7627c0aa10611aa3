"""Runners, the models they serve, and the instances the scheduler places on them.

A *model* is a catalogue entry (`kind: Model`): which engine serves it, where its weights are,
and how much memory an instance needs. An *instance* is one loaded copy of a model on one
runner. A *runner* is a process on some machine that dialled in and reports its hardware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from homeport.domain.models import ModelInfo, ModelKind

InstanceState = Literal["loading", "ready", "unloading", "failed"]
PlacementStrategy = Literal["spread", "binpack"]

# Models served by runners are listed under this provider name: `local/<model>`.
RUNNER_PROVIDER = "local"

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model in the catalogue: everything a runner needs to load it, and the scheduler to
    place it.

    `weights` is a local path on the runner, a URL or hub id (on runners with network), or
    None for an engine's built-in model. `memory_bytes` is what one instance needs; an engine
    that reports more once loaded is accounted at what it reports. `concurrency` is how many
    requests one instance serves at once; `min_instances` keeps that many warm (pinning).
    `runners` limits placement to runners of those names (empty: any runner).
    """

    name: str
    engine: str
    weights: str | None = None
    kind: ModelKind = "chat"
    context_length: int | None = None
    memory_bytes: int = 0
    concurrency: int = 1
    min_instances: int = 0
    runners: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)

    def info(self) -> ModelInfo:
        return ModelInfo(
            provider=RUNNER_PROVIDER,
            name=self.name,
            kind=self.kind,
            context_length=self.context_length,
            owned_by="homeport",
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "engine": self.engine,
            "weights": self.weights,
            "kind": self.kind,
            "context_length": self.context_length,
            "memory_bytes": self.memory_bytes,
            "concurrency": self.concurrency,
            "min_instances": self.min_instances,
            "runners": list(self.runners),
            "options": self.options,
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(
            name=str(data["name"]),
            engine=str(data["engine"]),
            weights=data.get("weights"),
            kind=data.get("kind", "chat"),
            context_length=data.get("context_length"),
            memory_bytes=int(data.get("memory_bytes") or 0),
            concurrency=int(data.get("concurrency") or 1),
            min_instances=int(data.get("min_instances") or 0),
            runners=tuple(str(r) for r in data.get("runners") or ()),
            options=dict(data.get("options") or {}),
        )


@dataclass(frozen=True, slots=True)
class Gpu:
    index: int
    name: str
    memory_total: int
    memory_used: int = 0
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class Hardware:
    """What a runner reports when it connects (and refreshes with each heartbeat)."""

    hostname: str
    cpu_count: int
    memory_total: int
    gpus: tuple[Gpu, ...] = ()
    platform: str = ""

    @property
    def gpu_memory_total(self) -> int:
        return sum(g.memory_total for g in self.gpus)

    def to_wire(self) -> dict[str, Any]:
        return {
            "hostname": self.hostname,
            "cpu_count": self.cpu_count,
            "memory_total": self.memory_total,
            "platform": self.platform,
            "gpus": [
                {
                    "index": g.index,
                    "name": g.name,
                    "memory_total": g.memory_total,
                    "memory_used": g.memory_used,
                    "uuid": g.uuid,
                }
                for g in self.gpus
            ],
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Hardware:
        return cls(
            hostname=str(data.get("hostname") or ""),
            cpu_count=int(data.get("cpu_count") or 0),
            memory_total=int(data.get("memory_total") or 0),
            platform=str(data.get("platform") or ""),
            gpus=tuple(
                Gpu(
                    index=int(g["index"]),
                    name=str(g["name"]),
                    memory_total=int(g["memory_total"]),
                    memory_used=int(g.get("memory_used") or 0),
                    uuid=g.get("uuid"),
                )
                for g in data.get("gpus") or []
            ),
        )


_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}


def parse_memory(value: int | float | str) -> int:
    """Bytes from a number or a Kubernetes-style quantity: `24Gi`, `512Mi`, `8G`, `8GB`."""
    if isinstance(value, bool):
        raise ValueError("a memory size must be a number or a quantity such as 24Gi")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a memory size cannot be negative")
        return int(value)
    text = value.strip().lower().removesuffix("b")
    number = text.rstrip("kmgtib")
    unit = text[len(number) :]
    if unit not in _UNITS or not number:
        raise ValueError(f"'{value}' is not a memory size; write e.g. 24Gi, 512Mi or 8G")
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"'{value}' is not a memory size; write e.g. 24Gi, 512Mi or 8G") from None
    if amount < 0:
        raise ValueError("a memory size cannot be negative")
    return int(amount * _UNITS[unit])


def format_memory(n: int) -> str:
    for unit, size in (("Ti", 1024**4), ("Gi", GIB), ("Mi", MIB), ("Ki", 1024)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0" + unit, unit)
    return str(n)
