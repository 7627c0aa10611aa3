"""`homeport users`, run as real subprocesses against a real server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, live_server, run_homeport


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("cli-users-server"))
    yield live
    live.stop()


homeport = run_homeport


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def sign_in(server: LiveServer, name: str, password: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/v1/auth/login", json={"name": name, "password": password})


def test_admins_manage_accounts_from_the_terminal(server: LiveServer, tmp_path: Path) -> None:
    password = "correct horse battery"
    created = homeport(
        server, tmp_path, "users", "create", "dora", "--password", stdin=f"{password}\n{password}\n"
    )
    assert "user/dora created" in ok(created)
    assert password not in created.stdout + created.stderr
    assert sign_in(server, "dora", password).status_code == 200

    assert ok(homeport(server, tmp_path, "users", "disable", "dora")) == "user/dora disabled\n"
    assert sign_in(server, "dora", password).status_code in (401, 403)
    assert ok(homeport(server, tmp_path, "users", "enable", "dora")) == "user/dora enabled\n"

    fresh = "another long secret"
    ok(homeport(server, tmp_path, "users", "reset-password", "dora", stdin=f"{fresh}\n{fresh}\n"))
    assert sign_in(server, "dora", fresh).status_code == 200

    assert "admin" in ok(homeport(server, tmp_path, "users", "set-role", "dora", "admin"))
    listed = ok(homeport(server, tmp_path, "users", "list"))
    assert any(line.split()[1:3] == ["dora", "admin"] for line in listed.splitlines()[1:])


def test_deleting_a_user_asks_first_and_can_hand_over(server: LiveServer, tmp_path: Path) -> None:
    for name in ("erin", "frank"):
        ok(homeport(server, tmp_path, "users", "create", name))
    declined = homeport(server, tmp_path, "users", "delete", "erin", stdin="n\n")
    assert declined.returncode != 0
    assert "erin" in ok(homeport(server, tmp_path, "users", "list"))
    deleted = ok(
        homeport(server, tmp_path, "users", "delete", "erin", "--transfer-to", "frank", "--yes")
    )
    assert deleted.startswith("user/erin deleted; 0 chat sessions handed over to frank")
    assert "erin" not in ok(homeport(server, tmp_path, "users", "list"))
    missing = homeport(server, tmp_path, "users", "delete", "erin", "--yes")
    assert missing.returncode == 4 and missing.stderr.startswith("error: ")
