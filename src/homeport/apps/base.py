"""What every part of the app spec shares: the strict model base, and how problems quote
values and locations."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

Loc = tuple[str | int, ...]
Text = Annotated[str, Field(min_length=1)]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def show(value: Any) -> str:
    """A value as an error message quotes it: 'hot', 3, true, null, a list."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def format_path(loc: Sequence[str | int]) -> str:
    """`("assistants", 0, "apis", 1, "schema")` as `assistants[0].apis[1].schema`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


def is_empty(value: Any) -> bool:
    if isinstance(value, dict):
        return all(is_empty(item) for item in value.values())
    if isinstance(value, list):
        return all(is_empty(item) for item in value)
    if isinstance(value, bool):
        return value is False
    return value is None or value == "" or (isinstance(value, int | float) and value == 0)


class SpecModel(BaseModel):
    """Strict: unknown keys and wrong types are errors, never coerced or dropped."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    # Helix fields Homeport lacks, with what they are; accepted only when empty.
    helix_unsupported: ClassVar[dict[str, str]] = {}
    # Values of those fields that mean the same as leaving them out.
    helix_neutral: ClassVar[dict[str, Any]] = {}
    # Keys written by mistake (or by older Helix files) and the key meant.
    key_hints: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _drop_empty_helix_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not cls.helix_unsupported:
            return data
        return {key: value for key, value in data.items() if not cls._neutral(key, value)}

    @classmethod
    def _neutral(cls, key: Any, value: Any) -> bool:
        if key not in cls.helix_unsupported:
            return False
        return is_empty(value) or (key in cls.helix_neutral and value == cls.helix_neutral[key])
