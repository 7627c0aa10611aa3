"""Apps (/api/v1/apps): the app store, inspecting, history, diffs, rollback, publishing.
Apps are created and changed with `POST /api/v1/apply` (`kind: AIApp`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from homeport.api.deps import ApplyCaller, ModelsCaller, ServicesDep, UsersAdmin
from homeport.api.schemas.apps import (
    AppOut,
    DraftIn,
    InspectOut,
    PublishIn,
    RollbackIn,
    VersionOut,
)
from homeport.apps.forms import app_json_schema
from homeport.services.apps import spec_yaml

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])


@router.get("")
async def list_apps(services: ServicesDep, caller: ModelsCaller) -> list[AppOut]:
    """The app store: the apps you may use (yours, shared with you, published)."""
    return [AppOut.of(app, version) for app, version in await services.apps.list_apps(caller)]


@router.get("/schema")
async def schema(caller: ModelsCaller) -> dict[str, Any]:
    """The JSON Schema of `kind: AIApp`, for editors."""
    return app_json_schema()


@router.get("/{name}")
async def inspect(
    name: str,
    services: ServicesDep,
    caller: ModelsCaller,
    version: int | None = Query(default=None, ge=1),
) -> InspectOut:
    app, found = await services.apps.version(caller, name, version)
    return InspectOut(
        app=AppOut.of(app, found),
        version=VersionOut.of(found, app.current_version),
        yaml=spec_yaml(app.name, found.spec),
        spec=found.spec,
    )


@router.get("/{name}/versions")
async def history(name: str, services: ServicesDep, caller: ModelsCaller) -> list[VersionOut]:
    """Every version, newest first."""
    app, versions = await services.apps.history(caller, name)
    return [VersionOut.of(v, app.current_version) for v in versions]


@router.get("/{name}/diff")
async def diff(
    name: str,
    services: ServicesDep,
    caller: ModelsCaller,
    old: int = Query(alias="from", ge=1),
    new: int = Query(alias="to", ge=1),
) -> dict[str, str]:
    """A unified diff between two versions' specs."""
    return {"diff": await services.apps.diff(caller, name, old, new)}


@router.post("/{name}/rollback")
async def rollback(
    name: str, body: RollbackIn, services: ServicesDep, caller: ApplyCaller
) -> VersionOut:
    """Make an earlier version's spec current again, as a new version."""
    version = await services.apps.rollback(caller, name, body.to)
    return VersionOut.of(version, version.number)


@router.post("/{name}/drafts")
async def draft(name: str, body: DraftIn, services: ServicesDep, caller: ApplyCaller) -> VersionOut:
    """Store a spec as a draft version: it answers only as `app/<name>@<number>` and never
    becomes current (evals run drafts). A version with exactly this spec is returned as is."""
    version = await services.apps.draft(caller, name, body.spec, label=body.label, git=body.git)
    app = await services.apps.get(caller, name)
    return VersionOut.of(version, app.current_version)


@router.post("/{name}/publish")
async def publish(name: str, body: PublishIn, services: ServicesDep, admin: UsersAdmin) -> AppOut:
    """Put an app in everyone's app store, or take it out (platform admins)."""
    app = await services.apps.publish(admin, name, body.published)
    _, version = await services.apps.version(admin, name)
    return AppOut.of(app, version)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_app(name: str, services: ServicesDep, caller: ApplyCaller) -> None:
    await services.apps.delete(caller, name)
