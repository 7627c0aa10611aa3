"""Bodies of the app routes (/api/v1/apps)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from homeport.api.schemas.rest import Strict
from homeport.domain.apps import App, AppVersion


class AppOut(BaseModel):
    """An app as the app store shows it."""

    name: str
    model: str = Field(description="Its id under /v1: app/<name>")
    display_name: str | None
    description: str | None
    avatar: str | None
    image: str | None
    conversation_starters: list[str]
    assistants: list[str]
    version: int
    owner_id: str
    published: bool
    updated_at: datetime

    @classmethod
    def of(cls, app: App, version: AppVersion) -> AppOut:
        spec = version.spec
        assistants = spec.get("assistants") or []
        starters = [s for a in assistants for s in a.get("conversation_starters") or []]
        return cls(
            name=app.name,
            model=f"app/{app.name}",
            display_name=spec.get("name"),
            description=spec.get("description"),
            avatar=spec.get("avatar"),
            image=spec.get("image"),
            conversation_starters=starters,
            assistants=[a.get("name") or a.get("id") or str(i) for i, a in enumerate(assistants)],
            version=app.current_version,
            owner_id=app.owner_id,
            published=app.published,
            updated_at=app.updated_at,
        )


class VersionOut(BaseModel):
    number: int
    content_hash: str
    label: str | None
    git: dict[str, Any]
    models: list[str] = Field(description="Each assistant's model, as recorded when applied")
    created_by: str | None
    created_at: datetime
    current: bool
    draft: bool = Field(
        False, description="An eval's draft: answers only as app/<name>@<number>, never current"
    )

    @classmethod
    def of(cls, version: AppVersion, current: int) -> VersionOut:
        return cls(
            number=version.number,
            content_hash=version.content_hash,
            label=version.label,
            git=version.git,
            models=version.models,
            created_by=version.created_by,
            created_at=version.created_at,
            current=version.number == current,
            draft=version.draft,
        )


class InspectOut(BaseModel):
    app: AppOut
    version: VersionOut
    yaml: str = Field(
        description="The spec as applied (secrets stay ${NAME}); applying it is a no-op"
    )
    spec: dict[str, Any]


class RollbackIn(Strict):
    to: int = Field(ge=1, description="The version whose spec becomes current again")


class PublishIn(Strict):
    published: bool


class DraftIn(Strict):
    spec: dict[str, Any] = Field(description="An app spec (the `spec` of a kind: AIApp)")
    label: str | None = Field(None, max_length=200, description="Names the draft in history")
    git: dict[str, str] | None = Field(None, description="Where the spec's file came from")
