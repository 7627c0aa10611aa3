"""Provider connections: stored records (admin API, env vars) and the live catalogue."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

from homeport.auth.secretbox import SecretBox
from homeport.db.engine import Database
from homeport.db.repositories import ProviderRepository
from homeport.domain.models import ModelInfo
from homeport.domain.providers import RESERVED_PROVIDER_NAMES, ProviderConfig
from homeport.errors import NotFound, ValidationFailed
from homeport.providers.base import ProviderContext, ProviderSpec, build_provider, provider_kinds
from homeport.providers.catalog import ModelCatalog
from homeport.settings import Settings

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ENV_PROVIDER = "openai"
OLLAMA = "ollama"
OLLAMA_PROBE_SECONDS = 1.5


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A provider as the API shows it: its record (if stored), health and models."""

    name: str
    kind: str
    base_url: str
    source: str
    config: ProviderConfig | None
    models: list[ModelInfo]
    error: str | None


@dataclass(frozen=True, slots=True)
class ProviderInput:
    kind: str
    base_url: str
    api_key: str | None = None
    models_allowed: list[str] | None = None
    options: dict[str, Any] | None = None


class ProviderService:
    def __init__(
        self,
        db: Database,
        catalog: ModelCatalog,
        *,
        box: SecretBox,
        context: ProviderContext,
    ):
        self.db = db
        self.catalog = catalog
        self.box = box
        self.context = context
        self._auto: dict[str, tuple[str, str]] = {}  # name -> (kind, base_url) found by itself

    @property
    def settings(self) -> Settings:
        return self.context.settings

    async def start(self) -> None:
        """Register the env provider, load stored ones, look for Ollama, list models."""
        settings = self.settings
        if settings.openai_base_url:
            key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
            await self.upsert(
                ENV_PROVIDER,
                ProviderInput(kind="openai", base_url=settings.openai_base_url, api_key=key),
                source="env",
            )
        async with self.db.transaction() as session:
            stored = await ProviderRepository(session).list()
        for config in stored:
            if self.catalog.provider(config.name) is None:
                await self._activate(config)
        await self.detect_ollama()
        await self.catalog.refresh()

    async def detect_ollama(self) -> None:
        """A local Ollama is added by itself when it answers (and no provider has its name)."""
        settings = self.settings
        if not settings.ollama_autodetect or self.catalog.provider(OLLAMA) is not None:
            return
        url = settings.ollama_host
        try:
            timeout = aiohttp.ClientTimeout(total=OLLAMA_PROBE_SECONDS)
            async with self.context.http.get(f"{url}/api/version", timeout=timeout) as response:
                found = response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            found = False
        if found:
            spec = ProviderSpec(
                name=OLLAMA, base_url=url, api_key=None, models_allowed=None, options={}
            )
            self.catalog.add(build_provider("ollama", spec, self.context))
            self._auto[OLLAMA] = ("ollama", url)
            log.info("found Ollama at %s", url)

    async def refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.model_refresh_seconds)
            await self.detect_ollama()
            await self.catalog.refresh()

    # -- admin operations ------------------------------------------------------------

    async def list(self) -> list[ProviderStatus]:
        async with self.db.transaction() as session:
            stored = {c.name: c for c in await ProviderRepository(session).list()}
        return [self._status(name, stored.get(name)) for name in self.catalog.provider_names()] + [
            self._status(name, config)
            for name, config in stored.items()
            if self.catalog.state(name) is None
        ]

    async def get(self, name: str) -> ProviderStatus:
        async with self.db.transaction() as session:
            config = await ProviderRepository(session).get(name)
        if config is None and self.catalog.state(name) is None:
            raise NotFound(f"no provider '{name}'", param="name")
        return self._status(name, config)

    async def upsert(
        self, name: str, data: ProviderInput, *, source: str = "api"
    ) -> tuple[ProviderStatus, bool]:
        """Create or replace a provider, then list its models (an unreachable one is kept)."""
        self.validate(name, data)
        values: dict[str, Any] = {
            "kind": data.kind,
            "base_url": data.base_url.rstrip("/"),
            "models_allowed": data.models_allowed,
            "options": data.options or {},
            "source": source,
            "api_key_encrypted": self.box.encrypt(data.api_key) if data.api_key else None,
        }
        async with self.db.transaction() as session:
            config, created = await ProviderRepository(session).upsert(name=name, values=values)
        await self.catalog.remove(name)
        self._auto.pop(name, None)
        await self._activate(config, api_key=data.api_key)
        await self.catalog.refresh(name)
        return self._status(name, config), created

    async def remove(self, name: str) -> None:
        async with self.db.transaction() as session:
            deleted = await ProviderRepository(session).delete(name)
        if not deleted and name not in self._auto:
            raise NotFound(f"no provider '{name}'", param="name")
        self._auto.pop(name, None)
        await self.catalog.remove(name)

    async def refresh(self, name: str | None = None) -> None:
        if name is not None and self.catalog.state(name) is None:
            raise NotFound(f"no provider '{name}'", param="name")
        await self.catalog.refresh(name)

    # -- helpers ----------------------------------------------------------------------------

    async def _activate(self, config: ProviderConfig, *, api_key: str | None = None) -> None:
        if api_key is None and config.has_api_key:
            async with self.db.transaction() as session:
                token = await ProviderRepository(session).encrypted_key(config.name)
            api_key = self.box.decrypt(token) if token else None
        spec = ProviderSpec(
            name=config.name,
            base_url=config.base_url,
            api_key=api_key,
            models_allowed=config.models_allowed,
            options=config.options,
        )
        self.catalog.add(build_provider(config.kind, spec, self.context))

    def validate(self, name: str, data: ProviderInput) -> None:
        """Raise ValidationFailed unless `upsert` would accept this provider."""
        if not NAME_PATTERN.match(name):
            raise ValidationFailed(
                "a provider name is 1-64 lowercase letters, digits, '.', '_' or '-'", param="name"
            )
        if name in RESERVED_PROVIDER_NAMES:
            raise ValidationFailed(f"the provider name '{name}' is reserved", param="name")
        if data.kind not in provider_kinds():
            raise ValidationFailed(
                f"unknown provider kind '{data.kind}'; known: {', '.join(provider_kinds())}",
                param="kind",
            )
        if not data.base_url.startswith(("http://", "https://")):
            raise ValidationFailed("base_url must be an http:// or https:// URL", param="base_url")

    def _status(self, name: str, config: ProviderConfig | None) -> ProviderStatus:
        state = self.catalog.state(name)
        kind, url = self._auto.get(
            name, (config.kind, config.base_url) if config else ("local", "")
        )
        return ProviderStatus(
            name=name,
            kind=kind,
            base_url=url,
            source=config.source if config else ("auto" if name in self._auto else "builtin"),
            config=config,
            models=sorted(state.models.values(), key=lambda m: m.name) if state else [],
            error=state.error if state else "not active",
        )

    # -- for declarative apply --------------------------------------------------------------

    async def stored(self, name: str) -> ProviderConfig | None:
        async with self.db.transaction() as session:
            return await ProviderRepository(session).get(name)

    async def stored_key(self, name: str) -> str | None:
        async with self.db.transaction() as session:
            token = await ProviderRepository(session).encrypted_key(name)
        return self.box.decrypt(token) if token else None
