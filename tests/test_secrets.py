"""Secrets: set, listed, replaced and deleted by their owner through the API and the CLI;
encrypted at rest; never shown again; resolved into `${NAME}` for their owner only."""

from __future__ import annotations

import logging
import os
import pty
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy
from sqlalchemy import text

from homeport.auth.secretbox import SecretBox
from homeport.db.repositories.secrets import ENCRYPTED
from homeport.errors import ValidationFailed
from homeport.services.container import Services, build_services
from homeport.settings import Settings
from tests.conftest import (
    ADMIN_KEY,
    LiveServer,
    asgi_client,
    live_server,
    make_settings,
    new_user_key,
)
from tests.conftest import run_homeport as homeport

HR_TOKEN = "hr-token-5f2c1d9e-never-shown"
WIKI_KEY = "wiki-key-a81b77-never-shown"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
async def ada(services: Services, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    key = await new_user_key(client, "ada")
    async with asgi_client(services, key) as http:
        yield http


async def user_id(http: httpx.AsyncClient) -> str:
    return str((await http.get("/api/v1/me")).json()["id"])


async def put(http: httpx.AsyncClient, name: str, value: str) -> httpx.Response:
    return await http.put(f"/api/v1/secrets/{name}", json={"value": value})


async def stored_rows(services: Services) -> list[tuple[str, str, str]]:
    async with services.db.transaction() as session:
        rows = await session.execute(text("SELECT owner_id, name, value_encrypted FROM secrets"))
        return [(owner, name, value) for owner, name, value in rows]


async def audit_text(services: Services) -> str:
    async with services.db.transaction() as session:
        rows = await session.execute(text("SELECT action, details FROM audit_log"))
        return "\n".join(str(row) for row in rows)


# -- the API -------------------------------------------------------------------------------------

pytestmark = pytest.mark.anyio


async def test_an_owner_sets_lists_replaces_and_deletes_and_never_sees_a_value_again(
    services: Services,
    client: httpx.AsyncClient,
    ada: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    responses = [
        created := await put(ada, "HR_TOKEN", "first value of the token"),
        replaced := await put(ada, "HR_TOKEN", HR_TOKEN),
        await put(ada, "WIKI_KEY", WIKI_KEY),
        listed := await ada.get("/api/v1/secrets"),
    ]
    assert (created.status_code, replaced.status_code) == (201, 200)
    assert created.json()["name"] == "HR_TOKEN"
    assert replaced.json()["created_at"] == created.json()["created_at"]
    assert replaced.json()["updated_at"] > created.json()["updated_at"]
    assert [s["name"] for s in listed.json()] == ["HR_TOKEN", "WIKI_KEY"]
    assert set(listed.json()[0]) == {"name", "created_at", "updated_at"}

    owner = await user_id(ada)
    assert await services.secrets.resolve(owner, "Bearer ${HR_TOKEN}") == f"Bearer {HR_TOKEN}"

    deleted = await ada.delete("/api/v1/secrets/HR_TOKEN")
    assert deleted.status_code == 204
    again = await ada.delete("/api/v1/secrets/HR_TOKEN")
    assert again.status_code == 404
    responses += [deleted, again, await ada.get("/api/v1/secrets")]
    assert [s["name"] for s in responses[-1].json()] == ["WIKI_KEY"]

    responses.append(audit := await client.get("/api/v1/audit", params={"action": "secret.*"}))
    actions = [e["action"] for e in audit.json()["data"]]
    assert sorted(actions) == ["secret.deleted", "secret.set", "secret.set", "secret.set"]
    seen = "\n".join(r.text for r in responses) + await audit_text(services)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for value in (HR_TOKEN, WIKI_KEY, "first value of the token"):
        assert value not in seen
        assert value not in logged


async def test_values_are_encrypted_at_rest_with_the_servers_key(
    services: Services, ada: httpx.AsyncClient
) -> None:
    assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
    [(owner, name, stored)] = await stored_rows(services)
    assert (owner, name) == (await user_id(ada), "HR_TOKEN")
    assert HR_TOKEN not in stored
    assert SecretBox(services.settings.secret_keys()).decrypt(stored) == HR_TOKEN


@pytest.mark.parametrize(
    "name", ["hr_token", "1TOKEN", "HR-TOKEN", "HR.TOKEN", "A" * 65, "ÄRGER", "HR%20TOKEN"]
)
async def test_bad_names_are_refused(ada: httpx.AsyncClient, name: str) -> None:
    refused = await put(ada, name, "value")
    assert refused.status_code == 422, refused.text
    assert "capitals, digits and underscores" in refused.json()["error"]["message"]
    assert (await ada.get("/api/v1/secrets")).json() == []


async def test_values_must_be_text_of_at_most_64_kib(ada: httpx.AsyncClient) -> None:
    assert (await put(ada, "_", "x" * 64 * 1024)).status_code == 201
    too_big = "é" * (32 * 1024 + 1)  # 64 KiB + 2 bytes in UTF-8
    refused = await put(ada, "BIG", too_big)
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == "a secret's value can be at most 64 KiB"
    assert (await put(ada, "EMPTY", "")).status_code == 422
    assert [s["name"] for s in (await ada.get("/api/v1/secrets")).json()] == ["_"]


async def test_a_viewer_may_not_keep_secrets(services: Services, client: httpx.AsyncClient) -> None:
    key = await new_user_key(client, "vic")
    demoted = await client.put("/api/v1/orgs/default/members/vic", json={"role": "viewer"})
    assert demoted.status_code == 200, demoted.text
    async with asgi_client(services, key) as vic:
        refused = await put(vic, "HR_TOKEN", HR_TOKEN)
        assert refused.status_code == 403
        assert "'secrets' permission" in refused.json()["error"]["message"]


# -- owners ----------------------------------------------------------------------------------------


async def test_another_user_can_neither_see_nor_use_your_secrets(
    services: Services, client: httpx.AsyncClient, ada: httpx.AsyncClient
) -> None:
    assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
    async with asgi_client(services, await new_user_key(client, "bob")) as bob:
        assert (await bob.get("/api/v1/secrets")).json() == []
        assert (await bob.delete("/api/v1/secrets/HR_TOKEN")).status_code == 404
        with pytest.raises(ValidationFailed, match="missing secret: HR_TOKEN"):
            await services.secrets.resolve(await user_id(bob), "${HR_TOKEN}")
        assert (await put(bob, "HR_TOKEN", "bobs own token")).status_code == 201
        bob_id = await user_id(bob)
    assert await services.secrets.resolve(bob_id, "${HR_TOKEN}") == "bobs own token"
    assert await services.secrets.resolve(await user_id(ada), "${HR_TOKEN}") == HR_TOKEN
    assert (await client.get("/api/v1/secrets")).json() == []  # not even an admin sees them


async def test_a_deleted_users_secrets_go_with_them(
    services: Services, client: httpx.AsyncClient, ada: httpx.AsyncClient
) -> None:
    assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
    assert (await client.delete("/api/v1/users/ada")).status_code == 200
    assert await stored_rows(services) == []


async def test_an_heir_gets_the_secrets_and_keeps_their_own_of_the_same_name(
    services: Services, client: httpx.AsyncClient, ada: httpx.AsyncClient
) -> None:
    assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
    assert (await put(ada, "WIKI_KEY", WIKI_KEY)).status_code == 201
    async with asgi_client(services, await new_user_key(client, "bea")) as bea:
        assert (await put(bea, "HR_TOKEN", "beas own token")).status_code == 201
        heir = await user_id(bea)
        deleted = await client.delete("/api/v1/users/ada", params={"transfer_to": "bea"})
        assert deleted.status_code == 200, deleted.text
        assert [s["name"] for s in (await bea.get("/api/v1/secrets")).json()] == [
            "HR_TOKEN",
            "WIKI_KEY",
        ]
    resolved = await services.secrets.resolve_all(heir, ["${HR_TOKEN}", "${WIKI_KEY}"])
    assert resolved == ["beas own token", WIKI_KEY]


# -- resolving references ------------------------------------------------------------------------


async def test_resolving_names_every_missing_secret_at_once(
    services: Services, ada: httpx.AsyncClient
) -> None:
    assert (await put(ada, "SET_ONE", "one")).status_code == 201
    owner = await user_id(ada)
    spec = {"headers": {"Authorization": "Bearer ${WIKI_KEY}"}, "args": ["${HR_TOKEN}", 3]}
    with pytest.raises(ValidationFailed) as raised:
        await services.secrets.resolve_all(owner, {**spec, "other": "${SET_ONE}${HR_TOKEN}"})
    assert str(raised.value) == (
        "missing secrets: HR_TOKEN, WIKI_KEY; set them with `homeport secret set NAME`"
    )
    assert await services.secrets.missing(owner, ["WIKI_KEY", "SET_ONE", "HR_TOKEN"]) == [
        "HR_TOKEN",
        "WIKI_KEY",
    ]

    assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
    assert (await put(ada, "WIKI_KEY", WIKI_KEY)).status_code == 201
    assert await services.secrets.resolve_all(owner, spec) == {
        "headers": {"Authorization": f"Bearer {WIKI_KEY}"},
        "args": [HR_TOKEN, 3],
    }
    assert spec["args"] == ["${HR_TOKEN}", 3]  # the original is left as it was
    assert await services.secrets.missing(owner, ["HR_TOKEN"]) == []


async def test_only_secret_names_are_references_and_dollar_dollar_escapes(
    services: Services, ada: httpx.AsyncClient
) -> None:
    assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
    owner = await user_id(ada)
    given = "${HR_TOKEN} $${HR_TOKEN} ${home} ${} $HR_TOKEN"
    expected = f"{HR_TOKEN} ${{HR_TOKEN}} ${{home}} ${{}} $HR_TOKEN"
    assert await services.secrets.resolve(owner, given) == expected
    assert await services.secrets.resolve(owner, "$${NOT_SET}") == "${NOT_SET}"


# -- rotating the server's key ---------------------------------------------------------------------


OLD_KEY, NEW_KEY = "old-key-" + "o" * 32, "new-key-" + "n" * 32


async def test_secrets_survive_a_key_rotation_and_reencrypt_under_the_new_key(
    tmp_path: Path, database_url: str
) -> None:
    old = make_settings(tmp_path, database_url=database_url, secret_key=OLD_KEY)
    async with build_services(old) as services, asgi_client(services) as admin:
        key = await new_user_key(admin, "ada")
        async with asgi_client(services, key) as ada:
            assert (await put(ada, "HR_TOKEN", HR_TOKEN)).status_code == 201
            owner = await user_id(ada)
            token = await ada.put("/api/v1/connections/brekka-hr", json={"token": "ada-token"})
            assert token.status_code == 201, token.text
        provider = await admin.post(
            "/api/v1/providers",
            json={"name": "up", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-up"},
        )
        assert provider.status_code == 201, provider.text
        oauth = await admin.put(
            "/api/v1/oauth/providers/brekka",
            json={
                "authorize_url": "https://login.brekka.example/authorize",
                "token_url": "https://login.brekka.example/token",
                "client_id": "homeport",
                "client_secret": "client-secret",
            },
        )
        assert oauth.status_code == 201, oauth.text

    rotated = make_settings(
        tmp_path, database_url=database_url, secret_key=NEW_KEY, secret_key_previous=OLD_KEY
    )
    async with build_services(rotated) as services, asgi_client(services) as admin:
        assert await services.secrets.resolve(owner, "${HR_TOKEN}") == HR_TOKEN
        async with asgi_client(services, key) as ada:
            refused = await ada.post("/api/v1/secrets/reencrypt")
            assert refused.status_code == 403
        done = await admin.post("/api/v1/secrets/reencrypt")
        assert done.json() == {
            "secrets": 1,
            "provider_keys": 1,
            "oauth_client_secrets": 1,
            "connection_tokens": 1,
            "oauth_pending": 0,
        }

    new_only = make_settings(tmp_path, database_url=database_url, secret_key=NEW_KEY)
    async with build_services(new_only) as services:
        assert await services.secrets.resolve(owner, "${HR_TOKEN}") == HR_TOKEN
        assert await services.connections.token_for(owner, "brekka-hr") == "ada-token"
        # Every encrypted value in the database opens with the new key alone.
        box = SecretBox(new_only.secret_keys())
        async with services.db.transaction() as session:
            for table, columns in ENCRYPTED.values():
                for column in columns:
                    values = getattr(table, column)
                    stored = await session.scalars(
                        sqlalchemy.select(values).where(values.is_not(None))
                    )
                    for value in stored:
                        box.decrypt(value)


# -- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("cli-secrets-server"))
    yield live
    live.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def names(listing: str) -> list[str]:
    return [line.split()[0] for line in listing.splitlines()[1:]]


def test_the_cli_sets_lists_replaces_and_deletes_without_showing_values(
    server: LiveServer, tmp_path: Path
) -> None:
    def secret(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return homeport(server, tmp_path, "secret", *args, stdin=stdin)

    runs = [
        created := secret("set", "HR_TOKEN", stdin=HR_TOKEN + "\n"),
        replaced := secret("set", "HR_TOKEN", "--value", WIKI_KEY),
        listed := secret("list"),
        listed_json := secret("list", "--json"),
    ]
    assert ok(created) == "secret HR_TOKEN created\n"
    assert ok(replaced) == "secret HR_TOKEN replaced\n"
    assert names(ok(listed)) == ["HR_TOKEN"]
    assert '"name": "HR_TOKEN"' in ok(listed_json)

    runs += [
        bad := secret("set", "hr_token", "--value", HR_TOKEN),
        empty := secret("set", "EMPTY", stdin=""),
        deleted := secret("delete", "HR_TOKEN"),
        missing := secret("delete", "HR_TOKEN"),
        after := secret("list"),
    ]
    assert bad.returncode == 1 and "capitals, digits and underscores" in bad.stderr
    assert empty.returncode == 1 and "no value" in empty.stderr
    assert ok(deleted) == "secret HR_TOKEN deleted\n"
    assert missing.returncode == 4 and missing.stderr.startswith("error: ")
    assert names(ok(after)) == []
    for run in runs:
        assert HR_TOKEN not in run.stdout + run.stderr
        assert WIKI_KEY not in run.stdout + run.stderr


def test_the_cli_keeps_each_users_secrets_apart(server: LiveServer, tmp_path: Path) -> None:
    admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    with admin:
        assert admin.post("/api/v1/users", json={"name": "cleo"}).status_code == 201
        key = admin.post("/api/v1/keys", json={"name": "t", "user": "cleo"}).json()["key"]
    ok(homeport(server, tmp_path, "secret", "set", "CLEOS", key=key, stdin="cleo's value"))
    assert names(ok(homeport(server, tmp_path, "secret", "list", key=key))) == ["CLEOS"]
    assert "CLEOS" not in ok(homeport(server, tmp_path, "secret", "list"))


def test_on_a_terminal_the_value_is_asked_for_and_not_echoed(
    server: LiveServer, tmp_path: Path
) -> None:
    code, output = on_terminal(server, tmp_path, ["secret", "set", "TTY_TOKEN"], HR_TOKEN)
    assert code == 0, output
    assert "Value:" in output and "secret TTY_TOKEN created" in output
    assert HR_TOKEN not in output
    assert names(ok(homeport(server, tmp_path, "secret", "list"))) == ["TTY_TOKEN"]


def on_terminal(
    server: LiveServer, tmp_path: Path, args: list[str], answer: str
) -> tuple[int, str]:
    """Run `homeport ARGS` on a pseudo-terminal; type `answer` once it prompts."""
    environment = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOMEPORT_URL": server.url,
        "HOMEPORT_API_KEY": ADMIN_KEY,
    }
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "homeport", *args],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=environment,
    ) as process:
        os.close(terminal)
        try:
            output = _read_until(controller, b"Value: ")  # the space: echo is off by then
            os.write(controller, answer.encode() + b"\n")
            output += _read_until(controller, None)
        finally:
            code = _ended(process)
    os.close(controller)
    return code, output.decode(errors="replace")


def _ended(process: subprocess.Popen[bytes]) -> int:
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def _read_until(fd: int, marker: bytes | None) -> bytes:
    """What the terminal shows until `marker` appears, or until it closes."""
    output = bytearray()
    while marker is None or marker not in output:
        if not select.select([fd], [], [], 30)[0]:
            raise TimeoutError(f"the terminal showed no {marker!r}: {bytes(output)!r}")
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        output += chunk
    return bytes(output)
