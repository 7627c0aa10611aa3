"""Apps: named, versioned specs that answer as `app/<name>`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from homeport.errors import InvalidRequest

APP_PROVIDER = "app"
# app/<name>, app/<name>@<version>, app/<name>/<assistant>, app/<name>@<version>/<assistant>
_APP_MODEL = re.compile(
    r"^app/(?P<name>[a-z0-9][a-z0-9_.-]*)(?:@(?P<version>\d+))?(?:/(?P<assistant>.+))?$"
)


@dataclass(frozen=True, slots=True)
class App:
    id: str
    name: str
    owner_id: str
    current_version: int
    published: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AppVersion:
    id: str
    app_id: str
    number: int
    spec: dict[str, Any]
    models: list[str]
    content_hash: str
    label: str | None
    git: dict[str, Any]
    created_by: str | None
    created_at: datetime
    draft: bool = False  # answers only when named by number; never the current version


@dataclass(frozen=True, slots=True)
class AppTarget:
    """What `app/<name>[@version][/assistant]` names."""

    name: str
    version: int | None = None
    assistant: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_id(self) -> str:
        return f"{APP_PROVIDER}/{self.name}"


def parse_app_model(model: str) -> AppTarget | None:
    """The app a model id names, or None when it names no app."""
    if not model.startswith(f"{APP_PROVIDER}/"):
        return None
    match = _APP_MODEL.match(model)
    if match is None:
        raise InvalidRequest(
            f"'{model}' is not an app model id; write app/<name>, app/<name>@<version> or "
            "app/<name>/<assistant>",
            param="model",
        )
    version = match.group("version")
    return AppTarget(
        match.group("name"), int(version) if version else None, match.group("assistant")
    )
