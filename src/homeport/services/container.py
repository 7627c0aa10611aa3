"""The typed container of services, built once per process from the settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from homeport.auth.secretbox import SecretBox
from homeport.db.engine import Database
from homeport.db.repositories import UserRepository
from homeport.domain.runners import parse_memory
from homeport.knowledge.blobs import BlobStore
from homeport.knowledge.stores.base import VectorStore, open_store
from homeport.observability.metrics import Metrics
from homeport.outbound import OutboundClient
from homeport.providers.base import ProviderContext
from homeport.providers.catalog import ModelCatalog
from homeport.providers.http import create_http_session
from homeport.providers.router import InferenceRouter
from homeport.providers.runners import RunnerPool
from homeport.runners.agent import Runner
from homeport.runners.engines.base import DEFAULT_ENGINES, available_engines
from homeport.runners.hardware import detect, memory_total
from homeport.runners.transport import memory_pair
from homeport.scheduler.scheduler import Scheduler
from homeport.services.access import AccessService
from homeport.services.accounts import AccountService
from homeport.services.apply import ApplyService, ProviderKind
from homeport.services.apps import AppKind, AppOwnedData, AppService, AppShares
from homeport.services.audit import AuditService
from homeport.services.connections import ConnectionService, ConnectionsOwnedData
from homeport.services.demo import seed_demo_apps
from homeport.services.device import DeviceService
from homeport.services.evals import EvalService
from homeport.services.feedback import FeedbackService
from homeport.services.inference import InferenceService
from homeport.services.ingest import Ingestor
from homeport.services.jobs import JobRunner
from homeport.services.knowledge import KnowledgeOwnedData, KnowledgeService, KnowledgeShares
from homeport.services.limits import LimitsService
from homeport.services.providers import ProviderService
from homeport.services.runners import (
    LOCAL_RUNNER,
    ModelCatalogue,
    ModelKind,
    RunnerService,
    builtin_models,
)
from homeport.services.secrets import SecretService, SecretsOwnedData
from homeport.services.server_settings import ServerSettingsService
from homeport.services.sessions import SessionService
from homeport.services.sharing import ProviderAccess, ProviderShares, SharingService
from homeport.services.sso import SsoService
from homeport.services.tools import ApiToolService
from homeport.services.usage import UsageService
from homeport.services.users import UserService
from homeport.settings import Settings

log = logging.getLogger(__name__)

# How long idle job workers get to stop before a job still running is cancelled.
JOBS_STOP_SECONDS = 2.0


@dataclass(slots=True)
class Services:
    settings: Settings
    db: Database
    metrics: Metrics
    http: aiohttp.ClientSession
    catalog: ModelCatalog
    scheduler: Scheduler
    runners: RunnerService
    jobs: JobRunner
    eval_jobs: JobRunner
    knowledge: KnowledgeService
    outbound: OutboundClient
    apps: AppService
    audit: AuditService
    users: UserService
    accounts: AccountService
    server_settings: ServerSettingsService
    providers: ProviderService
    inference: InferenceService
    usage: UsageService
    limits: LimitsService
    sessions: SessionService
    feedback: FeedbackService
    apply: ApplyService
    access: AccessService
    sharing: SharingService
    sso: SsoService
    device: DeviceService
    secrets: SecretService
    tools: ApiToolService
    connections: ConnectionService
    evals: EvalService


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
    outbound = OutboundClient.from_settings(settings)
    store: VectorStore | None = None
    try:
        await db.migrate()
        store = await open_store(settings, db)
        services = _assemble(settings, db, http, catalog, metrics or Metrics(), outbound, store)
        first_start = await _no_users(db)
        await services.users.bootstrap(settings)
        await services.runners.start()
        await services.providers.start()
        if first_start and settings.demo_apps:
            await seed_demo_apps(db, services.apps)
        async with (
            services.usage.running(),
            _running_runners(services),
            _running_jobs(services),
        ):
            yield services
    finally:
        await catalog.close()
        await outbound.aclose()
        if store is not None:
            await store.close()
        await http.close()
        await db.close()


def _assemble(
    settings: Settings,
    db: Database,
    http: aiohttp.ClientSession,
    catalog: ModelCatalog,
    metrics: Metrics,
    outbound: OutboundClient,
    store: VectorStore,
) -> Services:
    audit = AuditService(db)
    models = ModelCatalogue(builtin_models(settings, chat_model=_embedded_chat(settings)))
    scheduler = Scheduler(
        models,
        strategy=settings.scheduler_strategy,
        queue_limit=settings.scheduler_queue_limit,
        queue_timeout=settings.scheduler_queue_timeout,
        heartbeat_seconds=settings.runner_heartbeat_seconds,
        missed_heartbeats=settings.runner_missed_heartbeats,
    )
    catalog.add(RunnerPool(scheduler, models))
    runners = RunnerService(db, audit, scheduler, models)
    runners.on_models_changed(lambda: catalog.refresh(RunnerPool.name))
    users = UserService(db, audit)
    server_settings = ServerSettingsService(db, audit, settings)
    accounts = AccountService(db, audit, server_settings)
    users.also_forget(accounts.forget)
    sso = SsoService(settings, db, http, audit=audit, users=users, accounts=accounts)
    if sso.enabled:
        accounts.sso_options.append(sso.option)
    usage = UsageService(
        db, flush_seconds=settings.usage_flush_seconds, batch_size=settings.usage_batch_size
    )
    limits = LimitsService(db, usage, audit)
    router = InferenceRouter(catalog, metrics, usage)
    sharing = SharingService(db, audit)
    provider_access = ProviderAccess(sharing.index(ProviderShares.name))
    inference = InferenceService(router, catalog, limits=limits, access=provider_access)
    providers = ProviderService(
        db, catalog, box=SecretBox(settings.secret_keys()), context=ProviderContext(http, settings)
    )
    jobs = JobRunner(db, workers=settings.ingest_workers)
    blobs = BlobStore(settings.ensure_data_dir() / "files")
    knowledge = KnowledgeService(
        settings,
        db,
        audit,
        jobs=jobs,
        store=store,
        router=router,
        catalog=catalog,
        blobs=blobs,
        ingestor=Ingestor(db, store, router, _current_policy(outbound, server_settings), blobs),
        grants=sharing.index(KnowledgeShares.name),
    )
    sharing.register(KnowledgeShares(db))
    users.register_owned_data(KnowledgeOwnedData(store))
    users.register_owned_data(SecretsOwnedData())
    secrets = SecretService(db, audit, SecretBox(settings.secret_keys()))
    connections = ConnectionService(
        db, audit, SecretBox(settings.secret_keys()), http, public_url=settings.resolved_public_url
    )
    users.register_owned_data(ConnectionsOwnedData())
    apps = AppService(
        db,
        audit,
        catalog,
        grants=sharing.index(AppShares.name),
        secrets_missing=secrets.missing,
        knowledge=knowledge,
    )
    sharing.register(AppShares(db))
    users.register_owned_data(AppOwnedData())
    inference.apps = apps
    tools = ApiToolService(
        db,
        _current_policy(outbound, server_settings),
        secrets=secrets.resolve_all,
        connections=connections,
        timeout=settings.api_timeout_seconds,
        max_bytes=settings.api_max_bytes,
    )
    apps.prepare_apis = tools.prepare
    inference.tools = tools
    eval_jobs = JobRunner(db, workers=settings.eval_workers)
    sessions = SessionService(db, inference, knowledge)
    inference.grounder = sessions.grounder
    apply = ApplyService(audit)
    apply.register_kind("Provider", ProviderKind(providers))
    apply.register_kind("Model", ModelKind(runners))
    apply.register_kind("AIApp", AppKind(apps))
    sharing.register(ProviderShares(providers))
    return Services(
        settings=settings,
        db=db,
        metrics=metrics,
        http=http,
        catalog=catalog,
        scheduler=scheduler,
        runners=runners,
        jobs=jobs,
        eval_jobs=eval_jobs,
        knowledge=knowledge,
        outbound=outbound,
        audit=audit,
        users=users,
        accounts=accounts,
        server_settings=server_settings,
        providers=providers,
        inference=inference,
        usage=usage,
        limits=limits,
        sessions=sessions,
        feedback=FeedbackService(db, apps),
        apply=apply,
        access=AccessService(db, audit, caches=[users]),
        sharing=sharing,
        sso=sso,
        device=DeviceService(settings, db, audit=audit, users=users),
        secrets=secrets,
        connections=connections,
        apps=apps,
        tools=tools,
        evals=EvalService(db, apps, inference, eval_jobs, concurrency=settings.eval_concurrency),
    )


async def _no_users(db: Database) -> bool:
    async with db.transaction() as session:
        return await UserRepository(session).count() == 0


def _current_policy(
    outbound: OutboundClient, server_settings: ServerSettingsService
) -> Callable[[], Awaitable[OutboundClient]]:
    """The outbound client with the admins' allow list as it is now (set on any replica)."""

    async def current() -> OutboundClient:
        allowed = (await server_settings.get()).outbound_allow
        outbound.policy = outbound.policy.with_extra(allowed)
        return outbound

    return current


@asynccontextmanager
async def _running_jobs(services: Services) -> AsyncIterator[None]:
    """The background job workers and the knowledge refresh schedule."""
    runners = (services.jobs, services.eval_jobs)
    workers = [asyncio.create_task(r.run(), name="jobs") for r in runners]
    schedule = asyncio.create_task(services.knowledge.refresh_due(), name="knowledge-schedule")
    try:
        yield
    finally:
        schedule.cancel()
        for runner in runners:
            runner.stop()
        _, running = await asyncio.wait(workers, timeout=JOBS_STOP_SECONDS)
        for task in running:  # a job still at work: it runs again after the next start
            task.cancel()
        await asyncio.gather(*workers, schedule, return_exceptions=True)


def _embedded_chat(settings: Settings) -> bool:
    if settings.embedded_model and not _importable("llama_cpp"):
        log.warning("llama-cpp-python is not installed: the embedded chat model is off")
        return False
    return settings.embedded_model


@asynccontextmanager
async def _running_runners(services: Services) -> AsyncIterator[None]:
    """The scheduler's watch, and the co-located runner connected through a memory pair."""
    settings = services.settings
    tasks = [asyncio.create_task(services.scheduler.watch(), name="scheduler-watch")]
    runner = None
    if settings.local_runner:
        runner = Runner(
            name=LOCAL_RUNNER,
            engines=available_engines(DEFAULT_ENGINES),
            capacity=(
                parse_memory(settings.local_runner_memory)
                if settings.local_runner_memory
                else memory_total() // 2
            ),
            hardware=detect,
        )
        runner_end, control_end = memory_pair()
        tasks += [
            asyncio.create_task(
                services.scheduler.serve(control_end, runner_id=LOCAL_RUNNER, name=LOCAL_RUNNER),
                name="local-runner-link",
            ),
            asyncio.create_task(runner.session(runner_end), name="local-runner"),
        ]
    try:
        yield
    finally:
        await services.scheduler.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.close()


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None
