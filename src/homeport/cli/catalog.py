"""`homeport catalog`: the models runners serve (admins). Models are created and changed
with `homeport apply` (`kind: Model`); these commands look at them, warm, pin and delete.

NAME is a model's catalogue name (`qwen2.5-7b`), not its `/v1` id (`local/qwen2.5-7b`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
import yaml

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table
from homeport.domain.runners import format_memory

catalog_app = typer.Typer(
    help="The model catalogue runners serve from (admins; add models with `homeport apply`).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(catalog_app, name="catalog")


def _path(name: str, *rest: str) -> str:
    return "/".join(["/api/v1/models", quote(name, safe=""), *rest])


def _count(model: dict[str, Any], state: str) -> int:
    return sum(1 for i in model["instances"] if i["state"] == state)


@catalog_app.command("list")
@handle_errors
def catalog_list(as_json: JsonFlag = False) -> None:
    """Every model in the catalogue, how many instances it keeps warm and has loaded."""
    found = Client.from_settings().get("/api/v1/models")
    if as_json:
        print_json(found)
        return
    table(
        [
            (
                m["name"],
                m["id"],
                m["engine"],
                m["type"],
                format_memory(m["memory_bytes"]),
                m["concurrency"],
                m["min_instances"] or None,
                f"{_count(m, 'ready')}/{_count(m, 'loading')}",
            )
            for m in found
        ],
        ["name", "id", "engine", "type", "memory", "concurrency", "pinned", "ready/loading"],
    )


@catalog_app.command("show")
@handle_errors
def catalog_show(name: str, as_json: JsonFlag = False) -> None:
    """A model's settings, options and instances."""
    found = Client.from_settings().get(_path(name))
    if as_json:
        print_json(found)
        return
    typer.echo(yaml.safe_dump(_described(found), sort_keys=False, allow_unicode=True), nl=False)


def _described(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": model["name"],
        "id": model["id"],
        "source": model["source"],
        "engine": model["engine"],
        "weights": model["weights"],
        "type": model["type"],
        "context_length": model["context_length"],
        "memory": format_memory(model["memory_bytes"]),
        "concurrency": model["concurrency"],
        "min_instances": model["min_instances"],
        "runners": model["runners"] or "any",
        "options": model["options"],
        "instances": [
            {
                "id": i["id"],
                "runner": i["runner"],
                "state": i["state"],
                "active": f"{i['active']}/{i['concurrency']}",
                "served": i["served"],
            }
            for i in model["instances"]
        ],
    }


@catalog_app.command("warm")
@handle_errors
def catalog_warm(
    name: str,
    runner: Annotated[
        str | None, typer.Option(help="On this runner (default: where the scheduler places it)")
    ] = None,
) -> None:
    """Load one more instance of a model now, before requests ask for it."""
    body = {"model": name, "runner": runner}
    instance = Client.from_settings().post("/api/v1/instances", body)
    typer.echo(f"instance {instance['id']} of {name} loading on runner {instance['runner']}")


@catalog_app.command("pin")
@handle_errors
def catalog_pin(
    name: str,
    minimum: Annotated[int, typer.Option("--min", help="Instances to keep warm (0 unpins)")],
) -> None:
    """Keep at least N instances of a model loaded; missing ones load now."""
    _pin(name, minimum)


@catalog_app.command("unpin")
@handle_errors
def catalog_unpin(name: str) -> None:
    """Stop keeping a model's instances warm; idle ones may then be evicted."""
    _pin(name, 0)


def _pin(name: str, minimum: int) -> None:
    model = Client.from_settings().post(_path(name, "pin"), {"min_instances": minimum})
    kept = model["min_instances"]
    typer.echo(
        f"model/{name} pinned: {kept} instance(s) kept warm" if kept else f"model/{name} unpinned"
    )


@catalog_app.command("delete")
@handle_errors
def catalog_delete(name: str) -> None:
    """Remove a model from the catalogue; its instances are unloaded at once."""
    Client.from_settings().delete(_path(name))
    typer.echo(f"model/{name} deleted")
