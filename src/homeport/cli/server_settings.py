"""`homeport settings ...`: the server's run-time settings (admins).

`outbound-allow` lists the private destinations outbound requests may reach (knowledge URLs,
apps' API calls), besides `HOMEPORT_OUTBOUND_ALLOW`: hosts, `host:port` pairs or CIDRs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json

settings_app = typer.Typer(help="The server's run-time settings (admins).", no_args_is_help=True)
allow_app = typer.Typer(
    help="Private destinations outbound requests may reach (hosts, host:port, CIDRs).",
    no_args_is_help=True,
)
settings_app.add_typer(allow_app, name="outbound-allow")

PATH = "/api/v1/settings"
Entry = Annotated[str, typer.Argument(help="A host, host:port or CIDR, e.g. 10.20.0.0/16")]


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(settings_app, name="settings")


@settings_app.command("show")
@handle_errors
def settings_show(as_json: JsonFlag = False) -> None:
    """The settings as they are now."""
    current = Client.from_settings().get(PATH)
    if as_json:
        print_json(current)
        return
    typer.echo(f"registration: {current['registration']}")
    typer.echo(f"outbound_allow: {', '.join(current['outbound_allow']) or '(none)'}")


@allow_app.command("list")
@handle_errors
def allow_list() -> None:
    """The entries admins added (HOMEPORT_OUTBOUND_ALLOW's are not listed)."""
    for entry in Client.from_settings().get(PATH)["outbound_allow"]:
        typer.echo(entry)


@allow_app.command("add")
@handle_errors
def allow_add(entry: Entry) -> None:
    """Let outbound requests reach ENTRY."""
    client = Client.from_settings()
    entries = list(client.get(PATH)["outbound_allow"])
    if entry not in entries:
        client.request("PUT", PATH, json={"outbound_allow": [*entries, entry]})
    typer.echo(f"outbound requests may reach {entry}")


@allow_app.command("remove")
@handle_errors
def allow_remove(entry: Entry) -> None:
    """Refuse ENTRY again (unless HOMEPORT_OUTBOUND_ALLOW names it)."""
    client = Client.from_settings()
    entries = list(client.get(PATH)["outbound_allow"])
    client.request("PUT", PATH, json={"outbound_allow": [e for e in entries if e != entry]})
    typer.echo(f"{entry} removed")
