"""`homeport connection ...` and `homeport oauth-provider ...`: your own credentials for the
business systems apps call, and (admins) the OAuth2 providers you connect to.

Tokens and client secrets are read from a hidden prompt on a terminal, or from stdin, so they
stay out of shell history and process lists; they are never shown again.
"""

from __future__ import annotations

import contextlib
import sys
import webbrowser
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import typer

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table
from homeport.errors import ValidationFailed

connection_app = typer.Typer(
    help="Your connections: your own credentials for the business systems apps call.",
    no_args_is_help=True,
)
provider_app = typer.Typer(help="OAuth2 providers users connect to (admins).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(connection_app, name="connection")
    app.add_typer(provider_app, name="oauth-provider")


def _path(root: str, *parts: str) -> str:
    return "/".join([root, *(quote(p, safe="") for p in parts)])


def _connections(*parts: str) -> str:
    return _path("/api/v1/connections", *parts)


def _providers(*parts: str) -> str:
    return _path("/api/v1/oauth/providers", *parts)


def _when(value: str | None) -> str | None:
    """A time the server sent, in local time to the second."""
    if value is None:
        return None
    return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _read_secret(label: str, *, from_stdin: bool = False) -> str:
    """A hidden prompt on a terminal, else all of stdin less one newline."""
    if sys.stdin.isatty() and not from_stdin:
        prompted: str = typer.prompt(label, hide_input=True)
        return prompted
    value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if not value:
        raise ValidationFailed(f"no {label.lower()}: pipe it to stdin, or type it at the prompt")
    return value


# -- connections ---------------------------------------------------------------------------


@connection_app.command("list")
@handle_errors
def connection_list(as_json: JsonFlag = False) -> None:
    """Your connections (never their tokens)."""
    found = Client.from_settings().get("/api/v1/connections")
    if as_json:
        print_json(found)
        return
    table(
        [
            (c["name"], c["kind"], " ".join(c["scopes"]) or None, _when(c["connected_at"]))
            for c in found
        ],
        ["name", "kind", "scopes", "connected"],
    )


@connection_app.command("set-token")
@handle_errors
def connection_set_token(
    name: Annotated[str, typer.Argument(help="The name apps know it by, e.g. brekka-hr")],
    from_stdin: Annotated[
        bool, typer.Option("--from-stdin", help="Read the token from stdin, not a prompt")
    ] = False,
) -> None:
    """Store (or replace) a personal token, read from a hidden prompt or stdin."""
    body = {"token": _read_secret("Token", from_stdin=from_stdin)}
    Client.from_settings().request("PUT", _connections(name), json=body)
    typer.echo(f"connection {name} saved")


@connection_app.command("connect")
@handle_errors
def connection_connect(
    provider: Annotated[str, typer.Argument(help="The OAuth2 provider, e.g. brekka-sso")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope beyond the provider's own")
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the URL in a browser here")
    ] = False,
) -> None:
    """Print the URL that connects your account at an OAuth2 provider (valid ten minutes)."""
    started = Client.from_settings().post(
        _connections(provider, "authorize"), {"scopes": scope or []}
    )
    url = started["authorize_url"]
    typer.echo(f"Open this URL in a browser to connect to {provider}:\n{url}")
    if open_browser:
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(url)


@connection_app.command("delete")
@handle_errors
def connection_delete(name: str) -> None:
    """Delete a connection (an OAuth2 one is revoked at the provider too)."""
    Client.from_settings().delete(_connections(name))
    typer.echo(f"connection {name} deleted")


# -- providers (admins) ----------------------------------------------------------------------


def _provider_row(p: dict[str, Any]) -> tuple[Any, ...]:
    kind = "confidential" if p["confidential"] else "public"
    return (p["name"], p["client_id"], kind, " ".join(p["scopes"]) or None, p["token_url"])


@provider_app.command("list")
@handle_errors
def provider_list(as_json: JsonFlag = False) -> None:
    """The OAuth2 providers (never their client secrets)."""
    found = Client.from_settings().get("/api/v1/oauth/providers")
    if as_json:
        print_json(found)
        return
    table([_provider_row(p) for p in found], ["name", "client id", "client", "scopes", "token url"])


@provider_app.command("set")
@handle_errors
def provider_set(
    name: Annotated[str, typer.Argument(help="The name app specs use, e.g. brekka-sso")],
    authorize_url: Annotated[str, typer.Option(help="The authorization endpoint")],
    token_url: Annotated[str, typer.Option(help="The token endpoint")],
    client_id: Annotated[str, typer.Option(help="This server's client id there")],
    revoke_url: Annotated[
        str | None, typer.Option(help="The revocation endpoint (RFC 7009)")
    ] = None,
    client_secret: Annotated[
        bool,
        typer.Option("--client-secret", help="Read a client secret from a hidden prompt or stdin"),
    ] = False,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A scope every connection asks for")
    ] = None,
) -> None:
    """Create or replace a provider: every setting (without --client-secret: a public
    client, which relies on PKCE alone)."""
    body = {
        "authorize_url": authorize_url,
        "token_url": token_url,
        "revoke_url": revoke_url,
        "client_id": client_id,
        "client_secret": _read_secret("Client secret") if client_secret else None,
        "scopes": scope or [],
    }
    provider = Client.from_settings().request("PUT", _providers(name), json=body)
    action = "created" if provider["created_at"] == provider["updated_at"] else "replaced"
    typer.echo(f"oauth-provider {name} {action}")


@provider_app.command("delete")
@handle_errors
def provider_delete(name: str) -> None:
    """Delete a provider, and every user's connection to it."""
    Client.from_settings().delete(_providers(name))
    typer.echo(f"oauth-provider {name} deleted")
