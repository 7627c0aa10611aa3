"""`homeport users`: accounts, for admins.

USER takes an id or a name. Passwords are read from a prompt (or stdin), never from an
argument, so they stay out of shell history and process lists.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from homeport.cli.client import Client
from homeport.cli.output import handle_errors, table

users_app = typer.Typer(help="Users (admins).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(users_app, name="users")


def _path(user: str, *rest: str) -> str:
    return "/".join(["/api/v1/users", quote(user, safe=""), *rest])


def _password(prompt: str) -> str:
    value: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


@users_app.command("create")
@handle_errors
def users_create(
    name: str,
    email: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role")] = False,
    password: Annotated[
        bool, typer.Option("--password", help="Prompt for an initial password")
    ] = False,
) -> None:
    """Create a user (then give them a key with `homeport keys create --user NAME`)."""
    body = {"name": name, "email": email, "roles": ["admin"] if admin else ["user"]}
    if password:
        body["password"] = _password("Password")
    user = Client.from_settings().post("/api/v1/users", body)
    typer.echo(f"user/{user['name']} created ({user['id']})")


@users_app.command("list")
@handle_errors
def users_list() -> None:
    """List users."""
    rows = Client.from_settings().get("/api/v1/users")
    table(
        [(u["id"], u["name"], ",".join(u["roles"]), u["disabled"]) for u in rows],
        ["id", "name", "roles", "disabled"],
    )


@users_app.command("disable")
@handle_errors
def users_disable(user: str) -> None:
    """Disable a user: their sessions end and their keys stop working at once."""
    updated = Client.from_settings().request("PATCH", _path(user), json={"disabled": True})
    typer.echo(f"user/{updated['name']} disabled")


@users_app.command("enable")
@handle_errors
def users_enable(user: str) -> None:
    """Enable a disabled user again (their keys work again)."""
    updated = Client.from_settings().request("PATCH", _path(user), json={"disabled": False})
    typer.echo(f"user/{updated['name']} enabled")


@users_app.command("set-role")
@handle_errors
def users_set_role(
    user: str, role: Annotated[str, typer.Argument(help="admin (platform admin) or user")]
) -> None:
    """Make a user a platform admin, or an ordinary user."""
    updated = Client.from_settings().request("PATCH", _path(user), json={"roles": [role]})
    typer.echo(f"user/{updated['name']} is now {','.join(updated['roles'])}")


@users_app.command("reset-password")
@handle_errors
def users_reset_password(user: str) -> None:
    """Set a user's password (prompted); they are signed out everywhere."""
    body = {"new_password": _password("New password")}
    Client.from_settings().post(_path(user, "password"), body)
    typer.echo(f"user/{user} password reset; their browser sessions were ended")


@users_app.command("delete")
@handle_errors
def users_delete(
    user: str,
    transfer_to: Annotated[
        str | None, typer.Option(help="Give their chats and what they own to this user")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a user; their data goes to --transfer-to, or is deleted with them."""
    fate = f"handed over to {transfer_to}" if transfer_to else "deleted"
    if not yes:
        typer.confirm(f"Delete user {user}? Their data will be {fate}.", abort=True)
    client = Client.from_settings()
    params = {"transfer_to": transfer_to} if transfer_to else None
    result = client.request("DELETE", _path(user), params=params)
    typer.echo(f"user/{result['name']} deleted; {result['chat_sessions']} chat sessions {fate}")
