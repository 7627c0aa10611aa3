"""Apps as code: apply specs by name, keep every change as an immutable version, and resolve
`app/<name>[@version][/assistant]` to the model, prompt and knowledge that answer.

An app acts with the caller's rights plus exactly what its owner attached to it: knowledge an
assistant names is read through the app by whoever may use the app (attaching is sharing),
unless the entry says `access: caller`, when the caller's own rights filter retrieval.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from homeport.apps.forms import dump_app
from homeport.apps.loading import load_mapping
from homeport.apps.spec import (
    AppSpec,
    AssistantSpec,
    secret_references,
)
from homeport.db.engine import Database
from homeport.db.repositories import UserRepository
from homeport.db.repositories.apps import RESOURCE_TYPE, AppRepository
from homeport.db.repositories.knowledge import KnowledgeRepository
from homeport.domain.access import GrantPermission
from homeport.domain.apps import APP_PROVIDER, App, AppVersion, parse_app_model
from homeport.domain.chat import ChatMessage, ChatRequest, SamplingParams
from homeport.domain.knowledge import KnowledgeBase
from homeport.domain.models import ModelInfo
from homeport.domain.users import Principal
from homeport.errors import (
    Conflict,
    ModelNotFound,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from homeport.providers.catalog import ModelCatalog
from homeport.services.app_knowledge import AppKnowledge, inline_base_name
from homeport.services.apply import Applied as ApplyResult
from homeport.services.apply import Resource
from homeport.services.audit import AuditService
from homeport.services.knowledge import KnowledgeService
from homeport.services.lru import Lru
from homeport.services.sharing import GrantIndex, SharedResource
from homeport.services.users import load_principal

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# Names the app routes use for themselves (/api/v1/apps/schema).
RESERVED = frozenset({"schema"})
API_VERSION = "app.aispec.org/v1alpha1"
Action = Literal["created", "updated", "unchanged"]
CACHED_SPECS = 128  # the versions answering lately, as stored and as validated


@dataclass(frozen=True, slots=True)
class Applied:
    action: Action
    version: int
    diff: str = ""


@dataclass(frozen=True, slots=True)
class Served:
    """An app's assistant, ready to answer: the request rewritten for its model."""

    app: App
    version: AppVersion
    assistant: AssistantSpec
    model: str
    knowledge: list[KnowledgeBase]
    assistant_index: int = 0

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(provider=APP_PROVIDER, name=f"{self.app.name}@{self.version.number}")

    def prepare(self, request: ChatRequest) -> ChatRequest:
        """The assistant's model, its system prompt first (a client's system messages come
        after it: they cannot replace it), its sampling defaults where the client set none."""
        prompt = self.assistant.system_prompt
        messages = (
            [ChatMessage("system", prompt), *request.messages] if prompt else request.messages
        )
        params = request.params
        defaults = SamplingParams(
            max_tokens=params.max_tokens or self.assistant.max_tokens,
            temperature=params.temperature
            if params.temperature is not None
            else self.assistant.temperature,
            top_p=params.top_p if params.top_p is not None else self.assistant.top_p,
            stop=params.stop,
            seed=params.seed,
            extra=params.extra,
        )
        return replace(request, model=self.model, messages=messages, params=defaults)


def validate_spec(name: str, spec: dict[str, Any]) -> AppSpec:
    """The spec, validated as a file's would be; every problem reported at once."""
    document = {
        "apiVersion": API_VERSION,
        "kind": "AIApp",
        "metadata": {"name": name},
        "spec": spec,
    }
    return load_mapping(document, source=f"app/{name}").spec


def content_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def spec_yaml(name: str, spec: dict[str, Any]) -> str:
    """The wrapped form of a stored spec (multi-line text as `|` blocks): applying it
    changes nothing."""
    return dump_app(validate_spec(name, spec), name)


class AppService:
    def __init__(
        self,
        db: Database,
        audit: AuditService,
        catalog: ModelCatalog,
        *,
        grants: GrantIndex,
        secrets_missing: Any = None,
        knowledge: KnowledgeService | None = None,
    ):
        self.db = db
        self.audit = audit
        self.catalog = catalog
        self.grants = grants
        self.knowledge = knowledge
        # async (owner_id, names) -> the names the owner has no secret for
        self.secrets_missing = secrets_missing
        # async (name, spec) -> the spec with its APIs checked, URL schemas inlined
        self.prepare_apis: Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None
        # Versions never change, so these are never stale: an app made again gets a new id.
        self._versions: Lru[tuple[str, int], AppVersion] = Lru(CACHED_SPECS)
        self._specs: Lru[str, AppSpec] = Lru(CACHED_SPECS)

    # -- applying ---------------------------------------------------------------------------

    async def apply(
        self,
        principal: Principal,
        name: str,
        spec: dict[str, Any],
        *,
        dry_run: bool = False,
        label: str | None = None,
        git: dict[str, Any] | None = None,
    ) -> Applied:
        """Create or update the app `name` with `spec`: a new version when anything changed."""
        spec, parsed = await self._checked(principal, name, spec)
        async with self.db.transaction() as session:
            repo = AppRepository(session)
            app = await repo.by_name(name)
            current = await self._editable_current(principal, repo, app)
            digest = content_hash(spec)
            if current is not None and current.content_hash == digest:
                return Applied("unchanged", current.number)
            action: Action = "created" if app is None else "updated"
            diff = _diff(name, current.spec if current else None, spec)
            if dry_run:
                return Applied(action, (current.number if current else 0) + 1, diff)
            app, version = await self._add_version(
                repo, principal, name, app, current, parsed, spec, label=label, git=git
            )
            await self._audit(session, principal, f"app.{action}", app, version.number)
        if self.knowledge is not None:
            await AppKnowledge(self.knowledge).sync(principal, name, parsed)
        return Applied(action, version.number, diff)

    async def draft(
        self,
        principal: Principal,
        name: str,
        spec: dict[str, Any],
        *,
        label: str | None = None,
        git: dict[str, Any] | None = None,
    ) -> AppVersion:
        """A version of `name` that answers only when named by number (`app/name@N`): the
        live app does not change, and knowledge the spec adds is not ingested. A version
        with exactly this spec already is reused."""
        spec, parsed = await self._checked(principal, name, spec)
        async with self.db.transaction() as session:
            repo = AppRepository(session)
            app = await repo.by_name(name)
            current = await self._editable_current(principal, repo, app)
            digest = content_hash(spec)
            same = await repo.by_content(app.id, digest) if app is not None else None
            if same is not None:
                return same
            app, version = await self._add_version(
                repo, principal, name, app, current, parsed, spec, label=label, git=git, draft=True
            )
            await self._audit(session, principal, "app.drafted", app, version.number)
        return version

    async def _add_version(
        self,
        repo: AppRepository,
        principal: Principal,
        name: str,
        app: App | None,
        current: AppVersion | None,
        parsed: AppSpec,
        spec: dict[str, Any],
        *,
        label: str | None,
        git: dict[str, Any] | None,
        draft: bool = False,
    ) -> tuple[App, AppVersion]:
        """A new version of the app (created first, when new), with each assistant's model."""
        models = await self._models(principal, parsed, current)
        app = app or await repo.create(name=name, owner_id=principal.user_id)
        version = await repo.add_version(
            app.id,
            draft=draft,
            spec=spec,
            models=models,
            content_hash=content_hash(spec),
            label=label,
            git=git or {},
            created_by=principal.user_id,
        )
        return app, version

    async def _checked(
        self, principal: Principal, name: str, spec: dict[str, Any]
    ) -> tuple[dict[str, Any], AppSpec]:
        """The spec to store (URL schemas inlined) and its model, once everything it names
        (secrets, knowledge bases, APIs) checks out."""
        self.check(principal, name, spec)
        if self.prepare_apis is not None:
            spec = await self.prepare_apis(name, spec)
        parsed = validate_spec(name, spec)
        await self._check_secrets(principal, parsed)
        await self._check_knowledge(principal, parsed)
        return spec, parsed

    def check(self, principal: Principal, name: str, spec: dict[str, Any]) -> None:
        if not NAME.match(name) or name in RESERVED:
            raise ValidationFailed(
                f"'{name}' cannot name an app: use lowercase letters, digits, '.', '_', '-'",
                param="metadata.name",
            )
        validate_spec(name, spec)

    async def _editable_current(
        self, principal: Principal, repo: AppRepository, app: App | None
    ) -> AppVersion | None:
        if app is None:
            return None
        if not await self._may_edit(principal, app):
            if await self._may_use(principal, app):
                raise PermissionDenied(f"you may use app '{app.name}' but not change it")
            raise Conflict(f"the app name '{app.name}' is taken")
        return await repo.version(app.id, app.current_version)

    async def _models(
        self, principal: Principal, spec: AppSpec, current: AppVersion | None
    ) -> list[str]:
        """Each assistant's model: as written, else what it was, else today's default."""
        models = []
        for index, assistant in enumerate(spec.assistants):
            if assistant.model:
                models.append(assistant.model)
            elif current is not None and index < len(current.models):
                models.append(current.models[index])
            else:
                models.append(self.catalog.default_model_id())
        return models

    async def _check_secrets(self, principal: Principal, spec: AppSpec) -> None:
        names = sorted(secret_references(spec))
        if not names or self.secrets_missing is None:
            return
        missing = await self.secrets_missing(principal.user_id, names)
        if missing:
            raise ValidationFailed(
                f"missing secrets: {', '.join(missing)}; set them with `homeport secret set NAME`",
                param="spec",
            )

    async def _check_knowledge(self, principal: Principal, spec: AppSpec) -> None:
        """Knowledge bases an app names must be ones its author may read."""
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            for assistant in spec.assistants:
                for entry in assistant.knowledge:
                    ref = entry.knowledge_base
                    if ref and await repo.find(principal, ref) is None:
                        raise NotFound(f"no knowledge base '{ref}' that you may read", param="spec")

    # -- reading ------------------------------------------------------------------------------

    async def list_apps(self, principal: Principal) -> list[tuple[App, AppVersion]]:
        async with self.db.transaction() as session:
            repo = AppRepository(session)
            apps = await repo.usable(principal)
            pairs = []
            for app in _scoped(principal, apps):
                version = await repo.version(app.id, app.current_version)
                if version is not None:
                    pairs.append((app, version))
            return pairs

    async def get(self, principal: Principal, name: str) -> App:
        async with self.db.transaction() as session:
            app = await AppRepository(session).by_name(name)
        if app is None or not await self._may_use(principal, app) or not _scoped(principal, [app]):
            raise NotFound(f"no app '{name}'", param="name")
        return app

    async def editable(self, principal: Principal, name: str) -> App:
        """The app, for one who may change it (its owner, admins, users granted `edit`):
        not found for one who may not use it, refused to one who may only use it."""
        app = await self.get(principal, name)
        if not await self._may_edit(principal, app):
            raise PermissionDenied(f"you may use app '{name}' but not change it")
        return app

    async def editable_apps(self, principal: Principal) -> list[App]:
        async with self.db.transaction() as session:
            apps = await AppRepository(session).usable(principal)
        return [a for a in _scoped(principal, apps) if await self._may_edit(principal, a)]

    async def version(
        self, principal: Principal, name: str, number: int | None = None
    ) -> tuple[App, AppVersion]:
        app = await self.get(principal, name)
        key = (app.id, number or app.current_version)
        version = self._versions.get(key)  # versions never change: read each once
        if version is None:
            async with self.db.transaction() as session:
                version = await AppRepository(session).version(*key)
            if version is None:
                raise NotFound(f"app '{name}' has no version {number}", param="version")
            self._versions.put(key, version)
        return app, version

    async def history(self, principal: Principal, name: str) -> tuple[App, list[AppVersion]]:
        app = await self.get(principal, name)
        async with self.db.transaction() as session:
            return app, await AppRepository(session).versions(app.id)

    async def diff(self, principal: Principal, name: str, old: int, new: int) -> str:
        _, before = await self.version(principal, name, old)
        _, after = await self.version(principal, name, new)
        return _diff(name, before.spec, after.spec, old=f"v{old}", new=f"v{new}")

    # -- changing ------------------------------------------------------------------------------

    async def rollback(self, principal: Principal, name: str, to: int) -> AppVersion:
        """A new version with the spec (and models) of version `to`."""
        app, target = await self.version(principal, name, to)
        if not await self._may_edit(principal, app):
            raise PermissionDenied(f"you may use app '{name}' but not change it")
        async with self.db.transaction() as session:
            version = await AppRepository(session).add_version(
                app.id,
                spec=target.spec,
                models=target.models,
                content_hash=target.content_hash,
                label=f"rollback to v{to}",
                git={},
                created_by=principal.user_id,
            )
            await self._audit(session, principal, "app.rolled_back", app, version.number)
        return version

    async def delete(self, principal: Principal, name: str) -> None:
        app = await self.get(principal, name)
        if not (principal.is_admin or app.owner_id == principal.user_id):
            raise PermissionDenied(f"only the owner of app '{name}' may delete it")
        async with self.db.transaction() as session:
            await AppRepository(session).delete(app.id)
            await self._audit(session, principal, "app.deleted", app, app.current_version)

    async def publish(self, principal: Principal, name: str, published: bool) -> App:
        """Put an app in everyone's app store (platform admins), or take it out."""
        if not principal.is_admin:
            raise PermissionDenied("only platform admins publish apps to everyone")
        app = await self.get(principal, name)
        async with self.db.transaction() as session:
            await AppRepository(session).set(app.id, published=published)
            await self._audit(
                session,
                principal,
                "app.published" if published else "app.unpublished",
                app,
                app.current_version,
            )
        return replace(app, published=published)

    # -- serving ---------------------------------------------------------------------------------

    async def serve(self, principal: Principal, model_id: str) -> Served | None:
        """What answers for `app/...`; None when the model id names no app."""
        target = parse_app_model(model_id)
        if target is None:
            return None
        try:
            app, version = await self.version(principal, target.name, target.version)
        except NotFound:
            raise ModelNotFound(model_id) from None
        spec = self._parsed(app.name, version)
        index = _assistant(spec, target.assistant, model_id)
        knowledge = await self._knowledge(principal, app, spec.assistants[index])
        assistant = spec.assistants[index]
        return Served(app, version, assistant, version.models[index], knowledge, index)

    def _parsed(self, name: str, version: AppVersion) -> AppSpec:
        """The version's spec as models, validated once: versions never change (an API's
        inline schema can be megabytes)."""
        found = self._specs.get(version.id)
        return (
            found
            if found is not None
            else self._specs.put(version.id, validate_spec(name, version.spec))
        )

    async def models(self, principal: Principal) -> list[ModelInfo]:
        """The apps the caller may use, as `/v1/models` lists them."""
        return [
            ModelInfo(provider=APP_PROVIDER, name=app.name, kind="chat", owned_by="homeport")
            for app, _ in await self.list_apps(principal)
        ]

    async def _knowledge(
        self, principal: Principal, app: App, assistant: AssistantSpec
    ) -> list[KnowledgeBase]:
        """The assistant's knowledge: read through the app (its owner's attachment), or, for
        `access: caller`, only what the caller may read themselves."""
        found = []
        async with self.db.transaction() as session:
            repo = KnowledgeRepository(session)
            user = await UserRepository(session).get(app.owner_id)
            if user is None:
                return []
            owner = await load_principal(session, user)
            for entry in assistant.knowledge:
                ref = entry.knowledge_base or inline_base_name(app.name, entry.name or "")
                reader = principal if entry.access == "caller" else owner
                kb = await repo.find(reader, ref)
                if kb is not None:
                    found.append(kb)
        return found

    # -- access --------------------------------------------------------------------------------

    async def _may_use(self, principal: Principal, app: App) -> bool:
        if principal.is_admin or app.owner_id == principal.user_id or app.published:
            return True
        return await self.grants.allows(principal, app.id)

    async def _may_edit(self, principal: Principal, app: App) -> bool:
        if principal.is_admin or app.owner_id == principal.user_id:
            return True
        return await self.grants.allows(principal, app.id, GrantPermission.EDIT)

    async def _audit(
        self, session: AsyncSession, principal: Principal, action: str, app: App, version: int
    ) -> None:
        await self.audit.record(
            action,
            actor=principal,
            target_type=RESOURCE_TYPE,
            target_id=app.name,
            details={"version": version},
            session=session,
        )


def _scoped(principal: Principal, apps: Sequence[App]) -> list[App]:
    """A key scoped to apps (`app:<name>`) sees only those apps."""
    names = {s.removeprefix("app:") for s in principal.scopes if s.startswith("app:")}
    return [a for a in apps if not names or a.name in names]


def _assistant(spec: AppSpec, wanted: str | None, model_id: str) -> int:
    if wanted is None:
        return 0
    for index, assistant in enumerate(spec.assistants):
        if wanted in (assistant.name, assistant.id, str(index)):
            return index
    raise ModelNotFound(model_id, hint="That app has no assistant of this name.")


def _diff(
    name: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    *,
    old: str = "server",
    new: str = "file",
) -> str:
    """A unified diff of the two specs' YAML (empty when they are the same)."""
    lines_before = spec_yaml(name, before).splitlines(keepends=True) if before is not None else []
    lines_after = spec_yaml(name, after).splitlines(keepends=True)
    return "".join(
        difflib.unified_diff(
            lines_before, lines_after, fromfile=f"{name} ({old})", tofile=f"{name} ({new})"
        )
    )


class AppShares:
    """Apps as a shareable resource: owned by a user; `use` lets others chat with it,
    `edit` also lets them apply new versions."""

    name = RESOURCE_TYPE
    permissions = frozenset({GrantPermission.USE, GrantPermission.EDIT})
    open_without_grants = False
    owned = True

    def __init__(self, db: Database):
        self.db = db

    async def find(self, resource_id: str) -> SharedResource | None:
        async with self.db.transaction() as session:
            repo = AppRepository(session)
            app = await repo.get(resource_id) or await repo.by_name(resource_id)
        return SharedResource(type=self.name, id=app.id, owner_id=app.owner_id) if app else None

    async def transfer(self, session: AsyncSession, resource_id: str, to_user_id: str) -> None:
        await AppRepository(session).set(resource_id, owner_id=to_user_id)

    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> int:
        return await AppRepository(session).hand_over(from_user_id, to_user_id)


class AppOwnedData:
    async def hand_over(self, session: AsyncSession, from_user_id: str, to_user_id: str) -> None:
        await AppRepository(session).hand_over(from_user_id, to_user_id)

    async def erase(self, session: AsyncSession, user_id: str) -> None:
        await AppRepository(session).erase(user_id)


class AppKind:
    """`kind: AIApp` (app.aispec.org/v1alpha1): an app, upserted by name into a new version."""

    def __init__(self, apps: AppService):
        self.apps = apps

    def check(self, principal: Principal, resource: Resource) -> None:
        self.apps.check(principal, resource.name, resource.spec)

    async def apply(
        self, principal: Principal, resource: Resource, *, dry_run: bool
    ) -> ApplyResult:
        done = await self.apps.apply(
            principal,
            resource.name,
            resource.spec,
            dry_run=dry_run,
            label=resource.context.get("label"),
            git=resource.context.get("git"),
        )
        return ApplyResult(done.action, {"version": done.version, "diff": done.diff})
