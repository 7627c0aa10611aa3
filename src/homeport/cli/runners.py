"""`homeport runner` (the process) and `homeport runners ...` (admins): connected runners,
their tokens, the model instances on them and the scheduler's decisions.

RUNNER takes a runner's name (the name its token was created with).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from homeport.cli import catalog
from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table
from homeport.domain.runners import format_memory
from homeport.settings import RunnerSettings

runners_app = typer.Typer(
    help="Runners, their tokens and model instances (admins).", no_args_is_help=True
)
tokens_app = typer.Typer(help="Runner tokens: what a runner connects with.", no_args_is_help=True)
runners_app.add_typer(tokens_app, name="tokens")

BAR_WIDTH = 10
TIMES = "\N{MULTIPLICATION SIGN}"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.command("runner")(runner)
    app.add_typer(runners_app, name="runners")
    catalog.register(app)


@handle_errors
def runner(
    control_plane: Annotated[
        str | None,
        typer.Option(help="The control plane's URL (HOMEPORT_RUNNER_CONTROL_PLANE)"),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="This runner's token (HOMEPORT_RUNNER_TOKEN)")
    ] = None,
    memory: Annotated[
        str | None,
        typer.Option(
            help="Memory offered for models, e.g. 70Gi (default: GPU memory, else half the RAM)"
        ),
    ] = None,
    engine: Annotated[
        list[str] | None,
        typer.Option("--engine", help="An engine to offer (repeat; default: all that run here)"),
    ] = None,
) -> None:
    """Run a runner: dial out to the control plane and serve the models it places here."""
    from homeport.runners.main import run

    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "control_plane": control_plane,
            "token": token,
            "memory": memory,
            "engines": engine,
        }.items()
        if v
    }
    run(RunnerSettings(**overrides))


# -- how things look ------------------------------------------------------------------------


def gpu_summary(gpus: list[dict[str, Any]]) -> str:
    """Each kind of GPU, how many there are and the memory of one; `-` for none."""
    kinds = Counter((g["name"].removeprefix("NVIDIA "), g["memory_total"]) for g in gpus)
    parts = [f"{n}{TIMES} {name} {format_memory(memory)}" for (name, memory), n in kinds.items()]
    return ", ".join(parts) or "-"


def memory_bar(used: int, total: int) -> str:
    """`[####......] 4Gi/10Gi`."""
    filled = min(BAR_WIDTH, max(0, round(BAR_WIDTH * used / total))) if total else 0
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"[{bar}] {format_memory(used)}/{format_memory(total)}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _ago(seconds: float) -> str:
    return f"{_duration(seconds)} ago"


def _when(value: str | None) -> str | None:
    """A time the server sent, in local time to the second."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _progress(instance: dict[str, Any]) -> str:
    message = str(instance["message"])
    if instance["state"] == "loading":
        return f"{message} ({instance['progress']:.0%})"
    return message


def _busy(instance: dict[str, Any]) -> str:
    return f"{instance['active']}/{instance['concurrency']}"


def _path(*parts: str) -> str:
    return "/api/v1/" + "/".join(quote(p, safe="") for p in parts)


def _print_fields(fields: dict[str, Any]) -> None:
    width = max(len(key) for key in fields) + 2
    for key, value in fields.items():
        typer.echo(f"{key + ':':<{width}}{value}")


# -- runners --------------------------------------------------------------------------------


@runners_app.command("list")
@handle_errors
def runners_list(as_json: JsonFlag = False) -> None:
    """Connected runners: GPUs, memory held for models, engines, instances."""
    found = Client.from_settings().get("/api/v1/runners")
    if as_json:
        print_json(found)
        return
    table(
        [
            (
                r["name"],
                r["hostname"],
                gpu_summary(r["gpus"]),
                f"{format_memory(r['used'])}/{format_memory(r['capacity'])}",
                ",".join(sorted(r["engines"])),
                len(r["instances"]),
                _ago(r["last_seen_seconds"]),
            )
            for r in found
        ],
        ["name", "hostname", "gpus", "memory", "engines", "instances", "last seen"],
    )


@runners_app.command("show")
@handle_errors
def runners_show(name: str, as_json: JsonFlag = False) -> None:
    """A runner's hardware, each GPU's memory, its engines and its instances."""
    found = Client.from_settings().get(_path("runners", name))
    if as_json:
        print_json(found)
        return
    _print_runner(found)


def _print_runner(runner: dict[str, Any]) -> None:
    _print_fields(
        {
            "name": runner["name"],
            "hostname": runner["hostname"],
            "platform": runner["platform"],
            "version": runner["version"],
            "cpus": runner["cpu_count"],
            "ram": format_memory(runner["memory_total"]),
            "model memory": memory_bar(runner["used"], runner["capacity"]),
            "connected": f"{_when(runner['connected_at'])} "
            f"(last seen {_ago(runner['last_seen_seconds'])})",
            "engines": ", ".join(f"{k} {v}" for k, v in sorted(runner["engines"].items())),
        }
    )
    _print_gpus(runner["gpus"])
    _print_instances(runner["instances"])


def _print_gpus(gpus: list[dict[str, Any]]) -> None:
    typer.echo("gpus:" + ("" if gpus else " none"))
    for gpu in gpus:
        bar = memory_bar(gpu["memory_used"], gpu["memory_total"])
        typer.echo(f"  {gpu['index']}  {gpu['name']}  {bar}")


def _print_instances(instances: list[dict[str, Any]]) -> None:
    typer.echo("instances:" + ("" if instances else " none"))
    if not instances:
        return
    table(
        [
            (
                i["id"],
                i["model"],
                i["state"],
                _busy(i),
                format_memory(i["memory_bytes"]),
                _progress(i),
            )
            for i in instances
        ],
        ["id", "model", "state", "active", "memory", "progress"],
    )


# -- tokens ---------------------------------------------------------------------------------


@tokens_app.command("create")
@handle_errors
def tokens_create(
    name: Annotated[
        str, typer.Argument(help="The runner's name: lowercase letters, digits, '.', '_', '-'")
    ],
) -> None:
    """Create a runner's token and show how to start the runner with it. The token is
    printed once: use it or store it now."""
    client = Client.from_settings()
    created = client.post("/api/v1/runner-tokens", {"name": name})
    token, url = created["token"], created.get("control_plane") or client.url
    typer.echo(token)
    typer.echo(
        f"runner token for {name}; it will not be shown again. "
        "Start the runner on a GPU machine with:",
        err=True,
    )
    typer.echo(f"  homeport runner --control-plane {url} --token {token}", err=True)
    if httpx.URL(url).host in LOOPBACK:
        typer.echo(
            f"({url} is this machine: give the address the GPU machine reaches it at)",
            err=True,
        )


@tokens_app.command("list")
@handle_errors
def tokens_list(as_json: JsonFlag = False) -> None:
    """Runner tokens (never their secrets), and whether their runner is connected."""
    found = Client.from_settings().get("/api/v1/runner-tokens")
    if as_json:
        print_json(found)
        return
    table(
        [
            (
                t["name"],
                t["prefix"] + "…",
                "yes" if t["connected"] else "no",
                _when(t["created_at"]),
                _when(t["last_used_at"]),
                _when(t["revoked_at"]),
            )
            for t in found
        ],
        ["name", "prefix", "connected", "created", "last used", "revoked"],
    )


@tokens_app.command("revoke")
@handle_errors
def tokens_revoke(name: str) -> None:
    """Revoke a runner's token: the runner is disconnected and cannot come back with it."""
    Client.from_settings().delete(_path("runner-tokens", name))
    typer.echo(f"runner token {name} revoked; its runner is disconnected")


# -- instances and decisions ----------------------------------------------------------------


@runners_app.command("instances")
@handle_errors
def runners_instances(as_json: JsonFlag = False) -> None:
    """Every model instance, on every runner."""
    found = Client.from_settings().get("/api/v1/instances")
    if as_json:
        print_json(found)
        return
    table(
        [
            (
                i["id"],
                i["model"],
                i["runner"],
                i["state"],
                _busy(i),
                format_memory(i["memory_bytes"]),
                i["served"],
                _duration(i["idle_seconds"]),
                _progress(i),
            )
            for i in found
        ],
        ["id", "model", "runner", "state", "active", "memory", "served", "idle", "progress"],
    )


@runners_app.command("unload")
@handle_errors
def runners_unload(instance_id: str) -> None:
    """Unload a model instance (refused while it serves requests)."""
    Client.from_settings().delete(_path("instances", instance_id))
    typer.echo(f"instance {instance_id} unloaded")


@runners_app.command("decisions")
@handle_errors
def runners_decisions(
    model: Annotated[str | None, typer.Option(help="Only this model's (catalogue name)")] = None,
    limit: Annotated[int, typer.Option(help="How many, at most (up to 500)")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The scheduler's latest decisions, newest first: loads, evictions, queueing, drops."""
    found = Client.from_settings().get("/api/v1/scheduler/decisions", model=model, limit=limit)
    if as_json:
        print_json(found)
        return
    table(
        [(_when(d["at"]), d["action"], d["model"], d["runner"], d["detail"]) for d in found],
        ["time", "action", "model", "runner", "detail"],
    )
