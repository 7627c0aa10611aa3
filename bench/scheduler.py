"""The runner hop: a request through the scheduler to a runner process, versus the engine
called directly in the same process.

One process holds the control plane's services and serves its WebSocket with uvicorn on
loopback; a real `homeport runner` subprocess with the deterministic fake engine (no delay,
16 tokens per answer) dials in. Three paths answer the same chat request, interleaved
(direct, co-located, remote, direct, ...) after a warm-up:

- direct: `FakeEngine.chat_stream` in this process, collected;
- co-located: `RunnerPool.chat` -> scheduler -> in-memory channel -> the runner inside the
  control plane (what `homeport serve` uses for the embedded model);
- remote: `RunnerPool.chat` -> scheduler -> WebSocket -> runner subprocess -> back.

It prints p50/p99 of each, the added latency of each hop over direct, and the ratio.
Target: the remote hop adds at most 3 ms at p50 on loopback.

    python bench/scheduler.py [--requests 500] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import uvicorn

from homeport.api.app import create_app
from homeport.domain.chat import ChatMessage, ChatRequest
from homeport.domain.runners import GIB, ModelSpec
from homeport.providers.runners import RunnerPool
from homeport.runners.engines.base import collect
from homeport.runners.hardware import detect
from homeport.services.container import Services, build_services
from homeport.settings import Settings
from homeport.testing.engine import FakeEngine

API_KEY = "hp-bench-key-0123456789abcdef0123456789"
TARGET_ADDED_P50_MS = 3.0
TOKENS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spec(name: str, runner: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        engine="fake",
        memory_bytes=GIB,
        concurrency=8,
        runners=(runner,),
        options={"tokens": TOKENS},
    )


def request(name: str) -> ChatRequest:
    return ChatRequest(name, [ChatMessage("user", "how far is the runner?")])


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def until(check: Callable[[], bool], what: str, seconds: float = 120.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise RuntimeError(f"timed out waiting for {what}")


async def start_runner(services: Services, url: str, workdir: Path) -> asyncio.subprocess.Process:

    admin = await services.users.authenticate(API_KEY)
    _, token = await services.runners.create_token(admin, "bench")
    environment = {
        **os.environ,
        "HOMEPORT_RUNNER_CONTROL_PLANE": url,
        "HOMEPORT_RUNNER_TOKEN": token,
        "HOMEPORT_RUNNER_MEMORY": "8Gi",
        "HOMEPORT_RUNNER_ENGINES": "fake",
        "HOMEPORT_RUNNER_LOG_LEVEL": "WARNING",
    }
    log = (workdir / "runner.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "homeport", "runner", env=environment, stdout=log, stderr=log
    )
    await until(
        lambda: any(r.name == "bench" for r in services.scheduler.runners.values()),
        "the runner to connect (see runner.log)",
    )
    return process


async def measure(requests: int, workdir: Path) -> dict[str, Any]:
    port = free_port()
    settings = Settings(
        data_dir=workdir / "data",
        port=port,
        embedded_model=False,
        demo_apps=False,
        embedder=False,
        ollama_autodetect=False,
        bootstrap_api_key=API_KEY,
        access_log=False,
        log_level="WARNING",
    )
    async with build_services(settings) as services:
        await until(lambda: "local" in services.scheduler.runners, "the co-located runner")
        # The co-located runner offers no fake engine; give it one for the comparison.
        services.scheduler.runners["local"].engines["fake"] = "1.0"
        remote, colocated = spec("remote-fake", "bench"), spec("colocated-fake", "local")
        services.runners.models.builtins.update({remote.name: remote, colocated.name: colocated})
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, services=services),
                host="127.0.0.1",
                port=port,
                log_config=None,
                access_log=False,
            )
        )
        serving = asyncio.create_task(server.serve())
        await until(lambda: server.started, "the server to start")
        runner = await start_runner(services, f"http://127.0.0.1:{port}", workdir)
        try:
            return await _compare(services, remote, colocated, requests)
        finally:
            runner.terminate()
            await runner.wait()
            server.should_exit = True
            await serving


async def _compare(
    services: Services, remote: ModelSpec, colocated: ModelSpec, requests: int
) -> dict[str, Any]:
    pool = RunnerPool(services.scheduler, services.runners.models)
    engine = FakeEngine(spec("direct", "none"))
    await engine.load(lambda message, fraction: None)
    paths: dict[str, Callable[[], Awaitable[Any]]] = {
        "direct": lambda: collect(engine.chat_stream(request("direct"))),
        "co-located": lambda: pool.chat(colocated.info(), request(colocated.name)),
        "remote": lambda: pool.chat(remote.info(), request(remote.name)),
    }
    for call in paths.values():  # warm-up: loads the instances, fills caches
        for _ in range(20):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(requests):
        for name, call in paths.items():
            samples[name].append(await timed(call))
    return {name: _summary(values) for name, values in samples.items()}


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "mean_ms": round(statistics.fmean(values), 3),
    }


def report(results: dict[str, Any], requests: int) -> bool:
    direct = results["direct"]
    print(f"runner hop, {requests} requests per path, {TOKENS} tokens per answer")
    print(f"machine: {detect().cpu_count} CPUs, python {sys.version.split()[0]}")
    columns = ("p50 ms", 10), ("p99 ms", 10), ("added p50", 12), ("added p99", 12)
    print(f"{'path':<12}" + "".join(f"{c:>{w}}" for c, w in columns) + f"{'ratio p50':>11}")
    for name, row in results.items():
        added50 = row["p50_ms"] - direct["p50_ms"]
        added99 = row["p99_ms"] - direct["p99_ms"]
        ratio = row["p50_ms"] / direct["p50_ms"]
        row.update(added_p50_ms=round(added50, 3), added_p99_ms=round(added99, 3))
        print(
            f"{name:<12}{row['p50_ms']:>10.3f}{row['p99_ms']:>10.3f}"
            f"{added50:>12.3f}{added99:>12.3f}{ratio:>10.1f}x"
        )
    ok = bool(results["remote"]["added_p50_ms"] <= TARGET_ADDED_P50_MS)
    print(
        f"target: remote hop adds <= {TARGET_ADDED_P50_MS} ms at p50: "
        f"{'met' if ok else 'MISSED'} ({results['remote']['added_p50_ms']:.3f} ms)"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(measure(args.requests, Path(tmp)))
    ok = report(results, args.requests)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
