"""The typed container of services, built once per process from the settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from homeport.auth.secretbox import SecretBox
from homeport.db.engine import Database
from homeport.observability.metrics import Metrics
from homeport.providers.base import ProviderContext
from homeport.providers.catalog import ModelCatalog
from homeport.providers.http import create_http_session
from homeport.providers.local import LocalProvider
from homeport.providers.router import InferenceRouter
from homeport.services.accounts import AccountService
from homeport.services.apply import ApplyService, ProviderKind
from homeport.services.audit import AuditService
from homeport.services.inference import InferenceService
from homeport.services.providers import ProviderService
from homeport.services.sessions import SessionService
from homeport.services.users import UserService
from homeport.settings import Settings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    metrics: Metrics
    http: aiohttp.ClientSession
    catalog: ModelCatalog
    local: LocalProvider | None
    audit: AuditService
    users: UserService
    accounts: AccountService
    providers: ProviderService
    inference: InferenceService
    sessions: SessionService
    apply: ApplyService


@asynccontextmanager
async def build_services(
    settings: Settings, *, metrics: Metrics | None = None
) -> AsyncIterator[Services]:
    """Open the database (migrated), the upstream client and the providers; close them after."""
    settings.ensure_data_dir()
    db = Database(settings.resolved_database_url)
    http = create_http_session(
        connect_timeout=settings.upstream_connect_timeout,
        read_timeout=settings.upstream_read_timeout,
    )
    catalog = ModelCatalog(default_model=settings.default_model)
    try:
        await db.migrate()
        services = _assemble(settings, db, http, catalog, metrics or Metrics())
        await services.users.bootstrap(settings)
        await services.providers.start()
        yield services
    finally:
        await catalog.close()
        await http.close()
        await db.close()


def _assemble(
    settings: Settings,
    db: Database,
    http: aiohttp.ClientSession,
    catalog: ModelCatalog,
    metrics: Metrics,
) -> Services:
    local = _local_provider(settings)
    if local is not None:
        catalog.add(local)
    audit = AuditService(db)
    router = InferenceRouter(catalog, metrics)
    inference = InferenceService(router, catalog)
    providers = ProviderService(
        db, catalog, box=SecretBox(settings.secret_keys()), context=ProviderContext(http, settings)
    )
    apply = ApplyService(audit)
    apply.register_kind("Provider", ProviderKind(providers))
    return Services(
        settings=settings,
        db=db,
        metrics=metrics,
        http=http,
        catalog=catalog,
        local=local,
        audit=audit,
        users=UserService(db, audit),
        accounts=AccountService(db),
        providers=providers,
        inference=inference,
        sessions=SessionService(db, inference),
        apply=apply,
    )


def _local_provider(settings: Settings) -> LocalProvider | None:
    chat_model = settings.embedded_model and _importable("llama_cpp")
    if settings.embedded_model and not chat_model:
        log.warning("llama-cpp-python is not installed: the embedded chat model is off")
    if not chat_model and not settings.embedder:
        return None
    return LocalProvider(
        chat_model=chat_model,
        embedder=settings.embedder,
        model_path=settings.embedded_model_path,
        context_length=settings.embedded_context_length,
        threads=settings.embedded_threads,
    )


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None
