"""The scheduler: which runner serves a request, and which models are loaded where.

A request for a model takes a lease on a ready instance with a free slot (its concurrency).
Without one, the model is placed (`homeport.scheduler.placement`) and the request waits for
it to load, in a bounded queue with a timeout (then 503 with Retry-After). Runners dial in
through `serve`; their state lives here, in memory, and is learned again from their `hello`
after a restart. Every decision is logged and kept for the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from homeport.domain.ids import new_id
from homeport.domain.runners import Hardware, InstanceState, ModelSpec, PlacementStrategy
from homeport.errors import HomeportError, InvalidRequest, NotFound, ServiceUnavailable
from homeport.runners.protocol import PROTOCOL_VERSION, Message, error_from_wire
from homeport.runners.transport import Channel, ChannelClosed
from homeport.scheduler.links import RunnerLink
from homeport.scheduler.placement import InstanceView, Placement, RunnerView, place

log = logging.getLogger(__name__)

# A model that failed to load on a runner is not placed there again for this long.
FAILURE_BACKOFF_SECONDS = 30.0
UNLOAD_TIMEOUT_SECONDS = 30.0
DECISIONS_KEPT = 500


class ModelSource(Protocol):
    """The model catalogue, as the scheduler sees it."""

    def get(self, name: str) -> ModelSpec | None: ...

    def pinned(self) -> list[ModelSpec]: ...


@dataclass(eq=False, slots=True)
class Instance:
    id: str
    runner: RunnerState
    spec: ModelSpec
    state: InstanceState
    memory_bytes: int
    active: int = 0
    served: int = 0
    last_used: float = field(default_factory=time.monotonic)
    progress: float = 0.0
    message: str = ""
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def has_slot(self) -> bool:
        return self.state == "ready" and self.active < self.spec.concurrency


@dataclass(eq=False, slots=True)
class RunnerState:
    id: str
    name: str
    link: RunnerLink
    hardware: Hardware
    engines: dict[str, str]
    capacity: int
    version: str
    connected_at: datetime
    last_seen: float = field(default_factory=time.monotonic)
    instances: dict[str, Instance] = field(default_factory=dict)

    @property
    def used(self) -> int:
        return sum(i.memory_bytes for i in self.instances.values())


@dataclass(frozen=True, slots=True)
class Decision:
    at: datetime
    action: str
    detail: str
    model: str | None = None
    runner: str | None = None
    instance: str | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    instance: Instance

    @property
    def link(self) -> RunnerLink:
        return self.instance.runner.link


class Scheduler:
    def __init__(
        self,
        models: ModelSource,
        *,
        strategy: PlacementStrategy = "spread",
        queue_limit: int = 256,
        queue_timeout: float = 60.0,
        heartbeat_seconds: float = 5.0,
        missed_heartbeats: int = 3,
    ):
        self.models = models
        self.strategy = strategy
        self.queue_limit = queue_limit
        self.queue_timeout = queue_timeout
        self.heartbeat_seconds = heartbeat_seconds
        self.missed_heartbeats = missed_heartbeats
        self.runners: dict[str, RunnerState] = {}
        self.decisions: deque[Decision] = deque(maxlen=DECISIONS_KEPT)
        self._changed = asyncio.Event()
        self._waiting = 0
        self._failures: dict[tuple[str, str], tuple[float, str]] = {}
        self._unpinned: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- requests ---------------------------------------------------------------------------

    async def acquire(self, spec: ModelSpec) -> Lease:
        """A lease on an instance of `spec` with a free slot, loading one if needed."""
        deadline = time.monotonic() + self.queue_timeout
        queued = False
        try:
            while True:
                if (lease := self._lease(spec)) is not None:
                    return lease
                if not self._coming(spec):
                    self._place_or_explain(spec)
                    continue
                if not queued:
                    self._enqueue(spec)
                    queued = True
                await self._wait_until(deadline, spec)
        finally:
            if queued:
                self._waiting -= 1

    def release(self, lease: Lease) -> None:
        instance = lease.instance
        instance.active -= 1
        instance.served += 1
        instance.last_used = time.monotonic()
        self._notify()

    def _lease(self, spec: ModelSpec) -> Lease | None:
        ready = [i for i in self.instances(spec.name) if i.has_slot]
        if not ready:
            return None
        instance = min(ready, key=lambda i: (i.active, -i.last_used))
        instance.active += 1
        instance.last_used = time.monotonic()
        return Lease(instance)

    def _coming(self, spec: ModelSpec) -> bool:
        """Whether an instance is loading or busy, so that waiting will help."""
        return any(i.state in ("loading", "ready") for i in self.instances(spec.name))

    def _enqueue(self, spec: ModelSpec) -> None:
        if self._waiting >= self.queue_limit:
            self._record("reject", f"queue full ({self.queue_limit} waiting)", model=spec.name)
            raise ServiceUnavailable(
                f"model '{spec.name}' is busy and the queue is full; try again shortly",
                retry_after=5,
            )
        self._waiting += 1

    async def _wait_until(self, deadline: float, spec: ModelSpec) -> None:
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            await asyncio.wait_for(self._changed.wait(), remaining)
        except TimeoutError:
            self._record("timeout", f"waited {self.queue_timeout:.0f}s", model=spec.name)
            raise ServiceUnavailable(
                f"model '{spec.name}' did not become available within "
                f"{self.queue_timeout:.0f}s ({self._why_waiting(spec)})",
                retry_after=max(1, round(self.queue_timeout / 4)),
            ) from None

    def _why_waiting(self, spec: ModelSpec) -> str:
        loading = [i for i in self.instances(spec.name) if i.state == "loading"]
        if loading:
            i = loading[0]
            return f"still loading on {i.runner.name}: {i.message or 'starting'}"
        if not self.runners:
            return "no runner is connected"
        return "every instance is busy"

    def _place_or_explain(self, spec: ModelSpec) -> None:
        """Start loading `spec` somewhere, or raise why it cannot be now."""
        placement = place(
            spec, self._views(), strategy=self.strategy, excluded=self._failed_on(spec)
        )
        if placement is not None:
            self._start_load(spec, placement)
            return
        raise ServiceUnavailable(self._unplaceable(spec), retry_after=10)

    def _unplaceable(self, spec: ModelSpec) -> str:
        need = f"{spec.memory_bytes / 1024**3:.2f} GiB"
        if not self.runners:
            return f"model '{spec.name}' cannot be served: no runner is connected"
        failures = [
            f"{self._runner_name(r)}: {msg}"
            for (m, r), (_, msg) in self._recent_failures()
            if m == spec.name
        ]
        if failures:
            return f"model '{spec.name}' failed to load ({'; '.join(failures)})"
        engines = [r for r in self.runners.values() if spec.engine in r.engines]
        if not engines:
            return (
                f"model '{spec.name}' needs engine '{spec.engine}', which no connected runner has"
            )
        if all(r.capacity < spec.memory_bytes for r in engines):
            return (
                f"model '{spec.name}' needs {need}, more than any runner with '{spec.engine}' has"
            )
        return (
            f"model '{spec.name}' needs {need} and every runner that could hold it is busy "
            "with other models; try again shortly"
        )

    # -- loading and unloading ---------------------------------------------------------------

    def _start_load(self, spec: ModelSpec, placement: Placement) -> Instance:
        runner = self.runners[placement.runner_id]
        victims = [runner.instances[i] for i in placement.evict]
        for victim in victims:
            victim.state = "unloading"
            self._record(
                "evict", "to make room for " + spec.name, victim.spec.name, runner.name, victim.id
            )
        instance = Instance(
            id=new_id("inst"),
            runner=runner,
            spec=spec,
            state="loading",
            memory_bytes=spec.memory_bytes,
        )
        runner.instances[instance.id] = instance
        self._record("load", placement.reason, spec.name, runner.name, instance.id)
        self._spawn(self._load(instance, victims))
        return instance

    async def _load(self, instance: Instance, victims: list[Instance]) -> None:
        try:
            for victim in victims:
                await self._unload(victim)
            await instance.runner.link.load(instance.id, instance.spec)
        except HomeportError as exc:
            self._load_failed(instance, exc.message)

    async def _unload(self, instance: Instance) -> None:
        instance.state = "unloading"
        try:
            await instance.runner.link.unload(instance.id)
            await asyncio.wait_for(instance.gone.wait(), UNLOAD_TIMEOUT_SECONDS)
        except TimeoutError:
            raise ServiceUnavailable(
                f"runner {instance.runner.name} did not unload {instance.id} in time"
            ) from None

    def _load_failed(self, instance: Instance, error: str) -> None:
        runner = instance.runner
        runner.instances.pop(instance.id, None)
        instance.gone.set()
        self._failures[(instance.spec.name, runner.id)] = (time.monotonic(), error)
        self._record("load_failed", error, instance.spec.name, runner.name, instance.id)
        self._notify()

    def forget(self, instance: Instance) -> None:
        """The runner says it does not hold this instance (it restarted): stop using it."""
        if instance.runner.instances.pop(instance.id, None) is not None:
            instance.state = "failed"
            instance.gone.set()
            self._record(
                "forget",
                "the runner no longer holds it",
                instance.spec.name,
                instance.runner.name,
                instance.id,
            )
            self._notify()

    async def warm(self, spec: ModelSpec, runner_id: str | None = None) -> Instance:
        """Load one more instance of `spec` now (on `runner_id` when given)."""
        runners = self._views()
        if runner_id is not None:
            chosen = self._runner(runner_id)
            runners = [r for r in runners if r.id == chosen.id]
        placement = place(spec, runners, strategy=self.strategy)
        if placement is None:
            raise ServiceUnavailable(self._unplaceable(spec), retry_after=10)
        return self._start_load(spec, placement)

    async def unload(self, instance_id: str, *, force: bool = False) -> None:
        """Unload an instance; one serving requests only with `force`."""
        instance = self.instance(instance_id)
        if instance.active and not force:
            raise InvalidRequest(
                f"instance {instance_id} is serving {instance.active} request(s); "
                "try again when it is idle",
                code="instance_busy",
            )
        self._record(
            "unload", "asked by an admin", instance.spec.name, instance.runner.name, instance_id
        )
        await self._unload(instance)

    async def disconnect(self, runner_id: str, why: str) -> None:
        runner = self.runners.get(runner_id)
        if runner is not None:
            self._unregister(runner, why)
            await runner.link.close(4401, why)

    # -- pinning -----------------------------------------------------------------------------

    def ensure_pinned(self) -> None:
        """Load instances of pinned models until each has its minimum, without evicting
        another pinned instance."""
        for spec in self.models.pinned():
            missing = spec.min_instances - sum(
                1 for i in self.instances(spec.name) if i.state in ("loading", "ready")
            )
            for _ in range(max(0, missing)):
                placement = place(
                    spec, self._views(), strategy=self.strategy, excluded=self._failed_on(spec)
                )
                if placement is None:
                    self._pin_unsatisfied(spec)
                    break
                self._unpinned.discard(spec.name)
                self._start_load(spec, placement)

    def _pin_unsatisfied(self, spec: ModelSpec) -> None:
        if spec.name not in self._unpinned:
            self._unpinned.add(spec.name)
            self._record("pin_unsatisfied", self._unplaceable(spec), spec.name)

    # -- runners -----------------------------------------------------------------------------

    async def serve(self, channel: Channel, *, runner_id: str, name: str) -> None:
        """A runner's whole connection: its hello, then its messages until it goes."""
        try:
            hello = await channel.receive()
        except ChannelClosed:
            return
        if hello.get("type") != "hello":
            await channel.close(4400, "expected hello")
            return
        runner = await self._register(channel, hello, runner_id=runner_id, name=name)
        try:
            while True:
                self._handle(runner, await channel.receive())
        except ChannelClosed:
            pass
        finally:
            self._unregister(runner, "disconnected")

    async def _register(
        self, channel: Channel, hello: Message, *, runner_id: str, name: str
    ) -> RunnerState:
        old = self.runners.get(runner_id)
        if old is not None:
            self._unregister(old, "replaced by a new connection")
            await old.link.close(4409, "replaced by a new connection")
        runner = RunnerState(
            id=runner_id,
            name=name,
            link=RunnerLink(channel, name=name),
            hardware=Hardware.from_wire(hello.get("hardware") or {}),
            engines=dict(hello.get("engines") or {}),
            capacity=int(hello.get("capacity") or 0),
            version=str(hello.get("version") or ""),
            connected_at=datetime.now(UTC),
        )
        self.runners[runner_id] = runner
        await channel.send(
            {
                "type": "welcome",
                "runner_id": runner_id,
                "protocol": PROTOCOL_VERSION,
                "heartbeat_seconds": self.heartbeat_seconds,
            }
        )
        adopted = self._adopt(runner, hello.get("instances") or [])
        detail = (
            f"{len(runner.engines)} engine(s), {runner.capacity / 1024**3:.2f} GiB, "
            f"{adopted} instance(s) adopted"
        )
        self._record("register", detail, runner=name)
        self.ensure_pinned()
        self._notify()
        return runner

    def _adopt(self, runner: RunnerState, reported: list[Message]) -> int:
        """Instances a runner still holds (after a control-plane restart) are used again."""
        adopted = 0
        for item in reported:
            spec = self.models.get(str(item.get("model")))
            state = item.get("state")
            if spec is None or state not in ("ready", "loading"):
                self._spawn(runner.link.unload(str(item["id"])))
                continue
            runner.instances[str(item["id"])] = Instance(
                id=str(item["id"]),
                runner=runner,
                spec=spec,
                state=state,
                memory_bytes=max(spec.memory_bytes, int(item.get("memory_bytes") or 0)),
            )
            adopted += 1
        return adopted

    def _unregister(self, runner: RunnerState, why: str) -> None:
        if self.runners.get(runner.id) is not runner:
            return
        del self.runners[runner.id]
        runner.link.lost()
        for instance in runner.instances.values():
            instance.state = "failed"
            instance.gone.set()
        self._record("drop", f"{why}; {len(runner.instances)} instance(s) lost", runner=runner.name)
        self.ensure_pinned()
        self._notify()

    def _handle(self, runner: RunnerState, message: Message) -> None:
        runner.last_seen = time.monotonic()
        kind = message.get("type")
        if kind in ("delta", "result", "end", "error"):
            runner.link.deliver(message)
            return
        if kind == "heartbeat":
            if hardware := message.get("hardware"):
                runner.hardware = Hardware.from_wire(hardware)
            return
        instance = runner.instances.get(str(message.get("instance")))
        if instance is None:
            return
        if kind == "load_progress":
            instance.message = str(message.get("message") or "")
            instance.progress = float(message.get("fraction") or 0.0)
        elif kind == "loaded":
            self._loaded(instance, int(message.get("memory_bytes") or 0))
        elif kind == "load_failed":
            self._load_failed(instance, error_from_wire(message.get("error") or {}).message)
        elif kind == "unloaded":
            runner.instances.pop(instance.id, None)
            instance.gone.set()
            self._notify()

    def _loaded(self, instance: Instance, memory_bytes: int) -> None:
        instance.state = "ready"
        instance.progress = 1.0
        instance.memory_bytes = max(instance.spec.memory_bytes, memory_bytes)
        instance.last_used = time.monotonic()
        self._failures.pop((instance.spec.name, instance.runner.id), None)
        self._record(
            "ready",
            f"uses {instance.memory_bytes / 1024**3:.2f} GiB",
            instance.spec.name,
            instance.runner.name,
            instance.id,
        )
        self._notify()

    async def watch(self) -> None:
        """Drop runners that missed their heartbeats; keep pinned models loaded."""
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            limit = self.heartbeat_seconds * self.missed_heartbeats
            for runner in list(self.runners.values()):
                if time.monotonic() - runner.last_seen > limit:
                    self._unregister(runner, f"no heartbeat for {limit:.0f}s")
                    self._spawn(runner.link.close(1001, "missed heartbeats"))
            self.ensure_pinned()

    async def close(self) -> None:
        for runner in list(self.runners.values()):
            await runner.link.close(1001, "control plane shutting down")
        for task in list(self._tasks):
            task.cancel()

    # -- views -------------------------------------------------------------------------------

    def instances(self, model: str | None = None) -> Iterator[Instance]:
        for runner in self.runners.values():
            for instance in runner.instances.values():
                if model is None or instance.spec.name == model:
                    yield instance

    def instance(self, instance_id: str) -> Instance:
        found = next((i for i in self.instances() if i.id == instance_id), None)
        if found is None:
            raise NotFound(f"instance '{instance_id}' not found")
        return found

    def _runner(self, runner_id: str) -> RunnerState:
        runner = self.runners.get(runner_id) or next(
            (r for r in self.runners.values() if r.name == runner_id), None
        )
        if runner is None:
            raise NotFound(f"runner '{runner_id}' is not connected")
        return runner

    def _runner_name(self, runner_id: str) -> str:
        runner = self.runners.get(runner_id)
        return runner.name if runner else runner_id

    def _views(self) -> list[RunnerView]:
        return [self._view(r) for r in self.runners.values()]

    def _view(self, runner: RunnerState) -> RunnerView:
        return RunnerView(
            id=runner.id,
            name=runner.name,
            capacity=runner.capacity,
            engines=frozenset(runner.engines),
            instances=tuple(
                InstanceView(
                    id=i.id,
                    model=i.spec.name,
                    memory_bytes=i.memory_bytes,
                    idle=i.state == "ready" and i.active == 0,
                    last_used=i.last_used,
                    protected=self._protected(i),
                )
                for i in runner.instances.values()
            ),
        )

    def _protected(self, instance: Instance) -> bool:
        spec = self.models.get(instance.spec.name) or instance.spec
        live = sum(1 for i in self.instances(spec.name) if i.state in ("loading", "ready"))
        return spec.min_instances > 0 and live <= spec.min_instances

    def last_failure(self, model: str) -> str | None:
        """Why the model last failed to load, if it did recently."""
        return next((msg for (m, _), (_, msg) in self._recent_failures() if m == model), None)

    def _failed_on(self, spec: ModelSpec) -> set[str]:
        return {r for (m, r), _ in self._recent_failures() if m == spec.name}

    def _recent_failures(self) -> list[tuple[tuple[str, str], tuple[float, str]]]:
        now = time.monotonic()
        return [(k, v) for k, v in self._failures.items() if now - v[0] < FAILURE_BACKOFF_SECONDS]

    # -- bookkeeping -------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake everyone waiting; they look again."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _record(
        self,
        action: str,
        detail: str,
        model: str | None = None,
        runner: str | None = None,
        instance: str | None = None,
    ) -> None:
        self.decisions.append(
            Decision(
                datetime.now(UTC), action, detail, model=model, runner=runner, instance=instance
            )
        )
        log.info(
            "scheduler %s: model=%s runner=%s instance=%s %s",
            action,
            model,
            runner,
            instance,
            detail,
        )

    def record_retry(self, model: str, runner: str, error: str) -> None:
        self._record("retry", f"request retried elsewhere: {error}", model, runner)

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
