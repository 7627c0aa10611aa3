"""Identifiers: a prefix, a time-ordered part and a random part, so ids sort by creation."""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last = 0


def _monotonic_micros() -> int:
    """Microseconds since the epoch, strictly increasing within this process."""
    global _last
    with _lock:
        _last = max(_last + 1, time.time_ns() // 1000)
        return _last


def new_id(prefix: str) -> str:
    return f"{prefix}_{_monotonic_micros():014x}{os.urandom(6).hex()}"
