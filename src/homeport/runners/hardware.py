"""What this machine has: CPUs, memory, and each GPU's name and memory through NVML."""

from __future__ import annotations

import logging
import os
import platform
import socket
from typing import Any

from homeport.domain.runners import Gpu, Hardware

log = logging.getLogger(__name__)


def detect() -> Hardware:
    return Hardware(
        hostname=socket.gethostname(),
        cpu_count=os.cpu_count() or 1,
        memory_total=memory_total(),
        gpus=tuple(detect_gpus()),
        platform=f"{platform.system()} {platform.machine()}",
    )


def memory_total() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def detect_gpus() -> list[Gpu]:
    """NVIDIA GPUs through NVML (the `nvidia-ml-py` package); none when it is missing."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        log.debug("NVML is not available: %s", exc)
        return []
    try:
        return [_gpu(pynvml, i) for i in range(pynvml.nvmlDeviceGetCount())]
    finally:
        pynvml.nvmlShutdown()


def _gpu(pynvml: Any, index: int) -> Gpu:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    name = pynvml.nvmlDeviceGetName(handle)
    uuid = pynvml.nvmlDeviceGetUUID(handle)
    return Gpu(
        index=index,
        name=name.decode() if isinstance(name, bytes) else str(name),
        memory_total=int(memory.total),
        memory_used=int(memory.used),
        uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid),
    )
