"""`homeport orgs` and `homeport teams`: organizations, their members and teams.

ORG, TEAM and USER take an id or a name. What a caller may change is the server's decision
(organization owners and admins, platform admins); these commands only ask.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from homeport.cli.client import Client
from homeport.cli.output import handle_errors, table

ROLES = "owner, admin, member or viewer"

orgs_app = typer.Typer(help="Organizations and their members.", no_args_is_help=True)
teams_app = typer.Typer(help="Teams of an organization.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(orgs_app, name="orgs")
    app.add_typer(teams_app, name="teams")


def _path(*parts: str) -> str:
    return "/api/v1/orgs/" + "/".join(quote(p, safe="") for p in parts)


# -- organizations --------------------------------------------------------------------------


@orgs_app.command("list")
@handle_errors
def orgs_list() -> None:
    """Your organizations and your role in each (admins: all of them)."""
    rows = Client.from_settings().get("/api/v1/orgs")
    table(
        [(o["id"], o["name"], o["display_name"], o["role"]) for o in rows],
        ["id", "name", "display name", "your role"],
    )


@orgs_app.command("create")
@handle_errors
def orgs_create(
    name: Annotated[str, typer.Argument(help="Lowercase letters, digits, '.', '_' and '-'")],
    display_name: Annotated[str | None, typer.Option(help="A longer name to show")] = None,
    owner: Annotated[str | None, typer.Option(help="Its first owner (default: you)")] = None,
) -> None:
    """Create an organization (platform admins)."""
    body = {"name": name, "display_name": display_name, "owner": owner}
    org = Client.from_settings().post("/api/v1/orgs", {k: v for k, v in body.items() if v})
    typer.echo(f"org/{org['name']} created ({org['id']})")


@orgs_app.command("members")
@handle_errors
def orgs_members(org: str) -> None:
    """The members of an organization and their roles."""
    rows = Client.from_settings().get(_path(org, "members"))
    table([(m["user_id"], m["name"], m["role"]) for m in rows], ["user id", "name", "role"])


@orgs_app.command("add-member")
@handle_errors
def orgs_add_member(
    org: str,
    user: str,
    role: Annotated[str, typer.Option(help=ROLES)] = "member",
) -> None:
    """Add a user to an organization, or change their role there."""
    member = Client.from_settings().request("PUT", _path(org, "members", user), json={"role": role})
    typer.echo(f"user/{member['name']} is {member['role']} of org/{org}")


@orgs_app.command("remove-member")
@handle_errors
def orgs_remove_member(org: str, user: str) -> None:
    """Take a user out of an organization and its teams."""
    Client.from_settings().delete(_path(org, "members", user))
    typer.echo(f"user/{user} removed from org/{org}")


# -- teams ----------------------------------------------------------------------------------


@teams_app.command("list")
@handle_errors
def teams_list(org: str) -> None:
    """The teams of an organization."""
    rows = Client.from_settings().get(_path(org, "teams"))
    table([(t["id"], t["name"]) for t in rows], ["id", "name"])


@teams_app.command("create")
@handle_errors
def teams_create(org: str, name: str) -> None:
    """Create a team in an organization."""
    team = Client.from_settings().post(_path(org, "teams"), {"name": name})
    typer.echo(f"team/{org}/{team['name']} created ({team['id']})")


@teams_app.command("members")
@handle_errors
def teams_members(org: str, team: str) -> None:
    """The members of a team."""
    found = Client.from_settings().get(_path(org, "teams", team))
    table([(m["user_id"], m["name"]) for m in found["members"] or []], ["user id", "name"])


@teams_app.command("add-member")
@handle_errors
def teams_add_member(org: str, team: str, user: str) -> None:
    """Put a member of the organization into a team."""
    Client.from_settings().request("PUT", _path(org, "teams", team, "members", user))
    typer.echo(f"user/{user} added to team/{org}/{team}")


@teams_app.command("remove-member")
@handle_errors
def teams_remove_member(org: str, team: str, user: str) -> None:
    """Take a user out of a team."""
    Client.from_settings().delete(_path(org, "teams", team, "members", user))
    typer.echo(f"user/{user} removed from team/{org}/{team}")
