"""`homeport orgs` and `homeport teams`, run as real subprocesses against a real server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, live_server, run_homeport


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("cli-orgs-server"))
    yield live
    live.stop()


homeport = run_homeport


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    return result.stderr


def rows(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()[1:]]


def new_user(server: LiveServer, name: str) -> str:
    """A user (made through the API) and a key of theirs."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    created = httpx.post(f"{server.url}/api/v1/users", json={"name": name}, headers=admin)
    assert created.status_code == 201, created.text
    key = httpx.post(f"{server.url}/api/v1/keys", json={"user": name}, headers=admin)
    return str(key.json()["key"])


def test_admins_manage_organizations_members_and_teams(server: LiveServer, tmp_path: Path) -> None:
    def cli(*args: str, key: str = ADMIN_KEY) -> subprocess.CompletedProcess[str]:
        return homeport(server, tmp_path, *args, key=key)

    alice_key = new_user(server, "alice")
    assert "org/acme created" in ok(cli("orgs", "create", "acme", "--display-name", "Acme Corp"))
    assert ["acme", "Acme", "Corp", "owner"] in [r[1:] for r in rows(ok(cli("orgs", "list")))]

    assert ok(cli("orgs", "add-member", "acme", "alice", "--role", "admin")) == (
        "user/alice is admin of org/acme\n"
    )
    members = {r[1]: r[2] for r in rows(ok(cli("orgs", "members", "acme")))}
    assert members == {"admin": "owner", "alice": "admin"}

    assert "team/acme/backend created" in ok(cli("teams", "create", "acme", "backend"))
    assert [r[1] for r in rows(ok(cli("teams", "list", "acme")))] == ["backend"]
    ok(cli("teams", "add-member", "acme", "backend", "alice"))
    assert [r[1] for r in rows(ok(cli("teams", "members", "acme", "backend")))] == ["alice"]

    # Alice, an admin of acme only, sees it with her role, and may not create organizations.
    assert [r[1:] for r in rows(ok(cli("orgs", "list", key=alice_key)))] == [
        ["acme", "Acme", "Corp", "admin"],
        ["default", "Default", "organization", "member"],
    ]
    failed(cli("orgs", "create", "other", key=alice_key), 3)

    ok(cli("teams", "remove-member", "acme", "backend", "alice"))
    assert rows(ok(cli("teams", "members", "acme", "backend"))) == []
    assert "removed from org/acme" in ok(cli("orgs", "remove-member", "acme", "alice"))
    assert [r[1] for r in rows(ok(cli("orgs", "members", "acme")))] == ["admin"]


def test_mistakes_are_clear_errors(server: LiveServer, tmp_path: Path) -> None:
    assert "role" in failed(
        homeport(server, tmp_path, "orgs", "add-member", "default", "admin", "--role", "boss"), 1
    )
    failed(homeport(server, tmp_path, "orgs", "members", "no-such-org"), 4)
    failed(homeport(server, tmp_path, "teams", "create", "default", "Not A Slug"), 1)
