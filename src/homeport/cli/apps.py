"""`homeport app`: the apps you may use, their specs, history, diffs and rollbacks."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table

app_app = typer.Typer(
    help="Apps (create and change them with `homeport apply -f app.yaml`).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(app_app, name="app")


@app_app.command("list")
@handle_errors
def app_list() -> None:
    """The app store: apps you own, that are shared with you, or published."""
    rows = Client.from_settings().get("/api/v1/apps")
    table(
        [
            (a["name"], a["model"], f"v{a['version']}", a["display_name"] or "", _short(a))
            for a in rows
        ],
        ["name", "model", "version", "title", "description"],
    )


def _short(app: dict[str, str | None]) -> str:
    text = " ".join((app.get("description") or "").split())
    return text if len(text) <= 60 else text[:59] + "…"


@app_app.command("inspect")
@handle_errors
def app_inspect(
    name: str,
    version: Annotated[
        int | None, typer.Option(help="A version (default: the current one)")
    ] = None,
) -> None:
    """Print an app's spec as YAML: applying it again changes nothing."""
    found = Client.from_settings().get(f"/api/v1/apps/{name}", version=version)
    typer.echo(found["yaml"], nl=False)


@app_app.command("history")
@handle_errors
def app_history(name: str) -> None:
    """Every version of an app, newest first (* the current one; drafts are evals')."""
    versions = Client.from_settings().get(f"/api/v1/apps/{name}/versions")
    table(
        [
            (
                ("* " if v["current"] else "  ") + f"v{v['number']}",
                v["created_at"][:19].replace("T", " "),
                v["content_hash"][:12],
                (v["git"].get("commit") or "")[:12],
                "draft" if v.get("draft") else "",
                v["label"] or "",
            )
            for v in versions
        ],
        ["version", "applied", "hash", "commit", "draft", "label"],
    )


@app_app.command("diff")
@handle_errors
def app_diff(
    name: str,
    old: Annotated[int, typer.Argument(help="From this version")],
    new: Annotated[int, typer.Argument(help="To this version")],
) -> None:
    """What changed between two versions."""
    found = Client.from_settings().get(f"/api/v1/apps/{name}/diff", **{"from": old, "to": new})
    typer.echo(found["diff"] or "no changes", nl=not found["diff"])


@app_app.command("rollback")
@handle_errors
def app_rollback(
    name: str, to: Annotated[int, typer.Option("--to", help="The version to go back to")]
) -> None:
    """Make an earlier version current again (as a new version)."""
    version = Client.from_settings().post(f"/api/v1/apps/{name}/rollback", {"to": to})
    typer.echo(f"app/{name} rolled back to v{to}: now v{version['number']}")


@app_app.command("delete")
@handle_errors
def app_delete(
    name: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask")] = False
) -> None:
    """Delete an app and all its versions."""
    if not yes:
        typer.confirm(f"Delete app {name} and its history?", abort=True)
    Client.from_settings().delete(f"/api/v1/apps/{name}")
    typer.echo(f"app/{name} deleted")


@app_app.command("schema")
@handle_errors
def app_schema() -> None:
    """The JSON Schema of app specs (for editors; works without a server)."""
    from homeport.apps.forms import app_json_schema

    typer.echo(json.dumps(app_json_schema(), indent=2))


@app_app.command("calls")
@handle_errors
def app_calls(
    name: Annotated[str | None, typer.Argument(help="Only this app's calls")] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's calls (a user id)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The API calls apps' assistants made, newest first (admins): who, which operation,
    the status and how long it took. Bodies and credentials are never logged."""
    found = Client.from_settings().get("/api/v1/api-calls", app=name, user=user, limit=limit)
    if as_json:
        print_json(found["data"])
        return
    rows = [
        (
            c["at"][:19].replace("T", " "),
            c["user_id"] or "-",
            f"{c['app']}@{c['app_version']}",
            f"{c['api']}.{c['operation']}",
            str(c["status"] or "-"),
            f"{c['latency_ms']:.0f} ms",
            c["error"] or "",
        )
        for c in found["data"]
    ]
    table(rows, ["at", "user", "app", "operation", "status", "latency", "error"])
