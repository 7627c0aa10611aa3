"""`homeport runner`: a remote runner process, dialling out to a control plane."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from homeport.domain.runners import format_memory, parse_memory
from homeport.errors import ValidationFailed
from homeport.observability.logging import configure_logging
from homeport.runners.agent import Runner, connect
from homeport.runners.engines.base import DEFAULT_ENGINES, available_engines
from homeport.runners.hardware import detect
from homeport.settings import RunnerSettings

log = logging.getLogger(__name__)


def build_runner(settings: RunnerSettings) -> Runner:
    """The runner this machine can be: its hardware, its engines, the memory it offers."""
    hardware = detect()
    engines = available_engines(tuple(settings.engines) or DEFAULT_ENGINES)
    if not engines:
        wanted = ", ".join(settings.engines or DEFAULT_ENGINES)
        raise ValidationFailed(f"none of the engines ({wanted}) can run on this machine")
    capacity = (
        parse_memory(settings.memory)
        if settings.memory
        else hardware.gpu_memory_total or hardware.memory_total // 2
    )
    gpus = ", ".join(f"{g.name} ({format_memory(g.memory_total)})" for g in hardware.gpus)
    log.info(
        "runner on %s: %d CPUs, %s RAM, GPUs: %s; engines: %s; offering %s for models",
        hardware.hostname,
        hardware.cpu_count,
        format_memory(hardware.memory_total),
        gpus or "none",
        ", ".join(f"{k} {v}" for k, v in engines.items()),
        format_memory(capacity),
    )
    return Runner(name=hardware.hostname, engines=engines, capacity=capacity, hardware=detect)


def run(settings: RunnerSettings) -> None:
    """Run until SIGINT/SIGTERM; then unload every instance (stopping engine processes)."""
    if not settings.control_plane or settings.token is None:
        raise ValidationFailed(
            "a runner needs --control-plane (HOMEPORT_RUNNER_CONTROL_PLANE) and "
            "--token (HOMEPORT_RUNNER_TOKEN)"
        )
    configure_logging(settings.log_level, "text")
    runner = build_runner(settings)
    asyncio.run(_serve(runner, settings.control_plane, settings.token.get_secret_value()))


async def _serve(runner: Runner, control_plane: str, token: str) -> None:
    task = asyncio.create_task(connect(runner, control_plane, token))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await runner.close()
        log.info("runner stopped")
