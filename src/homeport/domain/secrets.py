"""Secrets: named values a user stores on the server, and `${NAME}` references to them.

A reference is `${NAME}` where NAME is a secret's name (capitals, digits, underscores; not
starting with a digit). `$${NAME}` stands for the text `${NAME}` itself. Anything else that
looks like a reference (`${lower}`, `${}`) is ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

NAME_PATTERN = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
MAX_VALUE_BYTES = 64 * 1024
_REFERENCE = re.compile(r"\$(\$?)\{([A-Z_][A-Z0-9_]{0,63})\}")


@dataclass(frozen=True, slots=True)
class Secret:
    """A stored secret as anyone may see it: never its value."""

    id: str
    owner_id: str
    name: str
    created_at: datetime
    updated_at: datetime


def valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None


def references(value: Any) -> list[str]:
    """The secret names referenced anywhere in strings, dicts and lists, sorted, once each."""
    found: set[str] = set()
    _walk(value, lambda text: found.update(_names(text)))
    return sorted(found)


def substitute(value: Any, values: dict[str, str]) -> Any:
    """A copy of `value` with every reference replaced; each name must be in `values`."""
    if isinstance(value, str):
        return _REFERENCE.sub(lambda m: _replacement(m, values), value)
    if isinstance(value, dict):
        return {key: substitute(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, values) for item in value]
    return value


def _names(text: str) -> list[str]:
    return [name for escaped, name in _REFERENCE.findall(text) if not escaped]


def _replacement(match: re.Match[str], values: dict[str, str]) -> str:
    escaped, name = match.groups()
    return "${" + name + "}" if escaped else values[name]


def _walk(value: Any, visit: Callable[[str], None]) -> None:
    if isinstance(value, str):
        visit(value)
    elif isinstance(value, dict):
        for item in value.values():
            _walk(item, visit)
    elif isinstance(value, list):
        for item in value:
            _walk(item, visit)
