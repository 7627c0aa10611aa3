"""`homeport secret ...`: your secrets, which app specs refer to as `${NAME}`.

A value is read from a hidden prompt on a terminal, or from stdin (`... | homeport secret set
NAME`), so it stays out of shell history and process lists; `--value` is there for scripts
that have no other way. Values are never shown again.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import typer

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table
from homeport.errors import ValidationFailed

secret_app = typer.Typer(
    help="Your secrets: values app specs use as ${NAME}, stored encrypted.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(secret_app, name="secret")


def _path(*parts: str) -> str:
    return "/".join(["/api/v1/secrets", *(quote(p, safe="") for p in parts)])


def _when(value: str) -> str:
    """A time the server sent, in local time to the second."""
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _read_value() -> str:
    """The value from a hidden prompt on a terminal, else all of stdin less one newline."""
    if sys.stdin.isatty():
        prompted: str = typer.prompt("Value", hide_input=True)
        return prompted
    value = sys.stdin.read()
    value = value.removesuffix("\n").removesuffix("\r")
    if not value:
        raise ValidationFailed("no value: give --value, or pipe the value to stdin")
    return value


@secret_app.command("set")
@handle_errors
def secret_set(
    name: Annotated[str, typer.Argument(help="Capitals, digits and underscores, e.g. HR_TOKEN")],
    value: Annotated[
        str | None,
        typer.Option(help="The value (visible in shell history: prefer the prompt or stdin)"),
    ] = None,
) -> None:
    """Create or replace a secret. Without --value, read it from a hidden prompt or stdin."""
    body = {"value": value if value is not None else _read_value()}
    secret = Client.from_settings().request("PUT", _path(name), json=body)
    action = "created" if secret["created_at"] == secret["updated_at"] else "replaced"
    typer.echo(f"secret {name} {action}")


@secret_app.command("list")
@handle_errors
def secret_list(as_json: JsonFlag = False) -> None:
    """Your secrets' names and when they were set (never their values)."""
    found = Client.from_settings().get("/api/v1/secrets")
    if as_json:
        print_json(found)
        return
    table(
        [(s["name"], _when(s["created_at"]), _when(s["updated_at"])) for s in found],
        ["name", "created", "updated"],
    )


@secret_app.command("delete")
@handle_errors
def secret_delete(name: str) -> None:
    """Delete a secret: apps that refer to it stop working until it is set again."""
    Client.from_settings().delete(_path(name))
    typer.echo(f"secret {name} deleted")


@secret_app.command("reencrypt")
@handle_errors
def secret_reencrypt() -> None:
    """Encrypt everything stored encrypted (users' secrets, provider keys, OAuth client
    secrets, connection tokens) under the current HOMEPORT_SECRET_KEY (admins; after a
    rotation, before dropping HOMEPORT_SECRET_KEY_PREVIOUS)."""
    done = Client.from_settings().post(_path("reencrypt"), {})
    counts = ", ".join(f"{count} {kind.replace('_', ' ')}" for kind, count in done.items())
    typer.echo(f"encrypted under the current key: {counts}")
