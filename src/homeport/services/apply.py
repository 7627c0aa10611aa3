"""`homeport apply`: one entry point for declarative resources, dispatched by `kind`.

A kind is a handler registered by name (`register_kind`). This module knows `Provider`;
later features register theirs (apps, models, ...) the same way.

    apiVersion: homeport.dev/v1
    kind: Provider
    metadata: {name: together}
    spec: {type: openai, base_url: https://api.together.xyz/v1, api_key: "..."}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from homeport.domain.users import Principal
from homeport.errors import PermissionDenied, ValidationFailed
from homeport.services.audit import AuditService
from homeport.services.providers import ProviderInput, ProviderService

API_VERSION = "homeport.dev/v1"
Action = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str
    name: str
    spec: dict[str, Any]
    api_version: str = API_VERSION
    # What the client adds about where it came from: a version label, the git commit.
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Applied:
    """What applying one resource did; `detail` says more (an app's version, its diff)."""

    action: Action
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    kind: str
    name: str
    action: Action
    dry_run: bool
    detail: dict[str, Any] = field(default_factory=dict)


class KindHandler(Protocol):
    def check(self, principal: Principal, resource: Resource) -> None:
        """Raise unless `apply` would accept the resource; changes nothing."""

    async def apply(
        self, principal: Principal, resource: Resource, *, dry_run: bool
    ) -> Action | Applied: ...


class ApplyService:
    def __init__(self, audit: AuditService) -> None:
        self.audit = audit
        self._kinds: dict[str, KindHandler] = {}

    def register_kind(self, kind: str, handler: KindHandler) -> None:
        self._kinds[kind] = handler

    @property
    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    async def apply(
        self, principal: Principal, resources: list[Resource], *, dry_run: bool = False
    ) -> list[ApplyOutcome]:
        """Check every resource first, so one that would fail changes nothing."""
        unknown = sorted({r.kind for r in resources} - set(self._kinds))
        if unknown:
            raise ValidationFailed(
                f"unknown kind(s): {', '.join(unknown)}; known kinds: {', '.join(self.kinds)}",
                param="kind",
            )
        for resource in resources:
            self._kinds[resource.kind].check(principal, resource)
        outcomes = []
        for resource in resources:
            done = await self._kinds[resource.kind].apply(principal, resource, dry_run=dry_run)
            applied = done if isinstance(done, Applied) else Applied(done)
            action = applied.action
            outcomes.append(
                ApplyOutcome(resource.kind, resource.name, action, dry_run, applied.detail)
            )
            if action != "unchanged" and not dry_run:
                await self.audit.record(
                    "resource.applied",
                    actor=principal,
                    target_type=resource.kind,
                    target_id=resource.name,
                    details={"action": action},
                )
        return outcomes


PROVIDER_FIELDS = {"type", "base_url", "api_key", "models", "options"}


class ProviderKind:
    """`kind: Provider`: an upstream connection, upserted by name. Admins only."""

    def __init__(self, providers: ProviderService):
        self.providers = providers

    def check(self, principal: Principal, resource: Resource) -> None:
        if not principal.is_admin:
            raise PermissionDenied("only admins apply providers")
        self.providers.validate(resource.name, self._input(resource))

    async def apply(self, principal: Principal, resource: Resource, *, dry_run: bool) -> Action:
        self.check(principal, resource)
        data = self._input(resource)
        current = await self._current(resource.name)
        if current is not None and current == self._comparable(data):
            return "unchanged"
        if not dry_run:
            await self.providers.upsert(resource.name, data, source="apply")
        return "created" if current is None else "updated"

    @staticmethod
    def _input(resource: Resource) -> ProviderInput:
        spec = resource.spec
        extra = sorted(set(spec) - PROVIDER_FIELDS)
        if extra:
            raise ValidationFailed(
                f"Provider '{resource.name}': unknown field(s) {', '.join(extra)}; "
                f"allowed: {', '.join(sorted(PROVIDER_FIELDS))}",
                param="spec",
            )
        if not isinstance(spec.get("base_url"), str):
            raise ValidationFailed(
                f"Provider '{resource.name}': spec.base_url is required", param="spec.base_url"
            )
        _expect(resource, "type", (str,), "a string")
        _expect(resource, "api_key", (str, type(None)), "a string")
        _expect(resource, "models", (list, type(None)), "a list of model ids")
        _expect(resource, "options", (dict, type(None)), "a mapping")
        models = spec.get("models")
        return ProviderInput(
            kind=spec.get("type", "openai"),
            base_url=spec["base_url"].rstrip("/"),
            api_key=spec.get("api_key"),
            models_allowed=[str(m) for m in models] if models else None,
            options=dict(spec.get("options") or {}),
        )

    async def _current(self, name: str) -> tuple[Any, ...] | None:
        config = await self.providers.stored(name)
        if config is None:
            return None
        key = await self.providers.stored_key(name)
        return (
            config.kind,
            config.base_url,
            key,
            list(config.models_allowed or []) or None,
            config.options,
        )

    @staticmethod
    def _comparable(data: ProviderInput) -> tuple[Any, ...]:
        return (data.kind, data.base_url, data.api_key, data.models_allowed, data.options or {})


def _expect(resource: Resource, field: str, types: tuple[type, ...], what: str) -> None:
    value = resource.spec.get(field)
    if field in resource.spec and not isinstance(value, types):
        raise ValidationFailed(
            f"Provider '{resource.name}': spec.{field} must be {what}", param=f"spec.{field}"
        )
