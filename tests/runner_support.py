"""Runner processes for tests: real `homeport runner` subprocesses dialling a live server."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import ADMIN_KEY, LiveServer

GIB = 1024**3


def admin(server: LiveServer) -> httpx.Client:
    trust = ssl.create_default_context(cafile=server.certificate) if server.certificate else True
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
        verify=trust,
    )


def wait_for(check: Callable[[], Any], *, timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class RunnerProcess:
    """`homeport runner` with the fake engine, offering `memory`."""

    def __init__(
        self,
        server: LiveServer,
        name: str,
        tmp_path: Path,
        *,
        memory: str = "10Gi",
        engines: tuple[str, ...] = ("fake",),
        token: str | None = None,
        env: dict[str, str] | None = None,
    ):
        self.server, self.name, self.memory, self.engines = server, name, memory, engines
        self.env = env or {}
        self.log = tmp_path / f"runner-{name}.log"
        if token is None:
            with admin(server) as http:
                created = http.post("/api/v1/runner-tokens", json={"name": name})
                assert created.status_code == 201, created.text
                token = created.json()["token"]
        self.token = token
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait: bool = True) -> RunnerProcess:
        environment = {
            **os.environ,
            "HOMEPORT_RUNNER_CONTROL_PLANE": self.server.url,
            "HOMEPORT_RUNNER_TOKEN": self.token,
            "HOMEPORT_RUNNER_MEMORY": self.memory,
            "HOMEPORT_RUNNER_ENGINES": ",".join(self.engines),
            **self.env,
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "homeport", "runner"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_connected()
        return self

    def wait_connected(self, timeout: float = 30) -> dict[str, Any]:
        return wait_for(self.info, timeout=timeout, what=f"runner {self.name} to connect")  # type: ignore[no-any-return]

    def info(self) -> dict[str, Any] | None:
        with admin(self.server) as http:
            response = http.get(f"/api/v1/runners/{self.name}")
        return response.json() if response.status_code == 200 else None

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def put_model(server: LiveServer, name: str, **spec: Any) -> dict[str, Any]:
    body = {"engine": "fake", "memory": "4Gi", **spec}
    with admin(server) as http:
        response = http.put(f"/api/v1/models/{name}", json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def chat(server: LiveServer, model: str, text: str = "hello there", **extra: Any) -> httpx.Response:
    with admin(server) as http:
        return http.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": text}], **extra},
        )


def instances(server: LiveServer, model: str | None = None) -> list[dict[str, Any]]:
    with admin(server) as http:
        found = http.get("/api/v1/instances").json()
    return [i for i in found if model is None or i["model"] == model]


def decisions(server: LiveServer, **params: Any) -> list[dict[str, Any]]:
    with admin(server) as http:
        return http.get("/api/v1/scheduler/decisions", params=params).json()  # type: ignore[no-any-return]
