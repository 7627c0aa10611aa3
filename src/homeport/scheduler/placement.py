"""Where a new instance of a model goes: simple rules, no side effects, easy to test.

1. Only runners that have the model's engine, are among the model's `runners` when it names
   some, are not excluded (a recent failed load), and whose whole memory could hold the model
   are candidates.
2. A runner with enough free memory wins: the one with the most free memory (`spread`) or
   the least that still fits (`binpack`); ties go to the runner with fewer instances, then
   by name.
3. Otherwise idle instances are evicted, least recently used first, never one that is busy,
   still loading, or keeps its model at its pinned minimum. The runner that needs the fewest
   evictions wins (then the one whose victims were used longest ago).

Memory is never oversubscribed: an instance counts from the moment it is placed until its
runner confirms it is unloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from homeport.domain.runners import ModelSpec, PlacementStrategy


@dataclass(frozen=True, slots=True)
class InstanceView:
    id: str
    model: str
    memory_bytes: int
    idle: bool  # ready and serving nothing
    last_used: float
    protected: bool  # pinned: evicting it would go below the model's minimum


@dataclass(frozen=True, slots=True)
class RunnerView:
    id: str
    name: str
    capacity: int
    engines: frozenset[str]
    instances: tuple[InstanceView, ...]

    @property
    def free(self) -> int:
        return self.capacity - sum(i.memory_bytes for i in self.instances)


@dataclass(frozen=True, slots=True)
class Placement:
    runner_id: str
    evict: tuple[str, ...]
    reason: str


def candidates(spec: ModelSpec, runners: list[RunnerView], excluded: set[str]) -> list[RunnerView]:
    return [
        r
        for r in runners
        if spec.engine in r.engines
        and r.capacity >= spec.memory_bytes
        and r.id not in excluded
        and (not spec.runners or r.name in spec.runners)
    ]


def place(
    spec: ModelSpec,
    runners: list[RunnerView],
    *,
    strategy: PlacementStrategy = "spread",
    excluded: set[str] | None = None,
    allow_eviction: bool = True,
) -> Placement | None:
    """Choose a runner for a new instance of `spec`, or None when none can take it now."""
    pool = candidates(spec, runners, excluded or set())
    fits = [r for r in pool if r.free >= spec.memory_bytes]
    if fits:
        best = min(fits, key=lambda r: _fit_key(r, spec, strategy))
        return Placement(best.id, (), _fit_reason(best, spec, strategy))
    if not allow_eviction:
        return None
    return _evicting(spec, pool)


def _fit_key(
    runner: RunnerView, spec: ModelSpec, strategy: PlacementStrategy
) -> tuple[int, int, str]:
    left = runner.free - spec.memory_bytes
    return (-left if strategy == "spread" else left, len(runner.instances), runner.name)


def _fit_reason(runner: RunnerView, spec: ModelSpec, strategy: PlacementStrategy) -> str:
    how = "most free memory" if strategy == "spread" else "tightest fit (binpack)"
    return (
        f"{_gib(runner.free)} free of {_gib(runner.capacity)} on {runner.name}, "
        f"model needs {_gib(spec.memory_bytes)}: {how}"
    )


def _evicting(spec: ModelSpec, pool: list[RunnerView]) -> Placement | None:
    options: list[tuple[int, float, str, RunnerView, list[InstanceView]]] = []
    for runner in pool:
        victims = victims_for(runner, spec.memory_bytes)
        if victims is not None:
            oldest = max((v.last_used for v in victims), default=0.0)
            options.append((len(victims), oldest, runner.name, runner, victims))
    if not options:
        return None
    _, _, _, runner, victims = min(options, key=lambda o: (o[0], o[1], o[2]))
    names = ", ".join(f"{v.model} ({v.id})" for v in victims)
    return Placement(
        runner.id,
        tuple(v.id for v in victims),
        f"{runner.name} has {_gib(runner.free)} free, model needs {_gib(spec.memory_bytes)}: "
        f"evicting least recently used idle {names}",
    )


def victims_for(runner: RunnerView, needed: int) -> list[InstanceView] | None:
    """Idle, unprotected instances to unload, least recently used first, to free `needed`."""
    free = runner.free
    chosen: list[InstanceView] = []
    for instance in sorted(runner.instances, key=lambda i: i.last_used):
        if free >= needed:
            break
        if instance.idle and not instance.protected:
            chosen.append(instance)
            free += instance.memory_bytes
    return chosen if free >= needed else None


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"
