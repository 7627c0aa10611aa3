"""`homeport`: run the server, or talk to one over its HTTP API."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from homeport import __version__
from homeport.cli import (
    admin,
    apps,
    connections,
    evals,
    feedback,
    knowledge,
    orgs,
    runners,
    secrets,
    server_settings,
    users,
)
from homeport.cli.client import Client
from homeport.cli.device import device_login
from homeport.cli.output import handle_errors, table
from homeport.cli.resources import git_context, load_resources
from homeport.settings import ClientSettings

app = typer.Typer(
    help="Homeport: a private, self-hosted generative-AI platform.", no_args_is_help=True
)
providers_app = typer.Typer(help="Model providers (admins).", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(providers_app, name="providers")
app.add_typer(keys_app, name="keys")
admin.register(app)  # usage, quotas
orgs.register(app)  # orgs, teams
users.register(app)  # users
runners.register(app)  # runner, runners
knowledge.register(app)  # knowledge
secrets.register(app)  # secret
apps.register(app)  # app
connections.register(app)  # connection, oauth-provider
feedback.register(app)  # feedback
evals.register(app)  # eval
server_settings.register(app)  # settings


def main() -> None:
    app()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"homeport {__version__}")


@app.command()
@handle_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (HOMEPORT_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (HOMEPORT_PORT)")] = None,
) -> None:
    """Run the Homeport server."""
    from homeport.server import run

    run(host=host, port=port)


@app.command()
@handle_errors
def login(
    url: Annotated[str, typer.Option(help="The server, e.g. http://127.0.0.1:8080")],
    key: Annotated[str | None, typer.Option(help="An API key (asked for when not given)")] = None,
    device: Annotated[
        bool, typer.Option("--device", help="Sign in through a browser instead of with a key")
    ] = False,
    browser: Annotated[
        bool, typer.Option(help="With --device: open the verification page here")
    ] = True,
) -> None:
    """Check a key against a server (or get one by signing in through a browser with
    --device) and save both as the default profile."""
    if device:
        key = device_login(url.rstrip("/"), open_browser=browser)
    elif key is None:
        key = typer.prompt("Key", hide_input=True)
    me = Client(url.rstrip("/"), key).get("/api/v1/me")
    path = ClientSettings().write_profile(url=url.rstrip("/"), api_key=key)
    typer.echo(f"Logged in to {url} as {me['name']}; profile saved to {path}")


@app.command()
@handle_errors
def models() -> None:
    """List the models you can use."""
    data = Client.from_settings().get("/v1/models")["data"]
    table(
        [(m["id"], m["homeport"]["kind"], m["homeport"]["context_length"]) for m in data],
        ["id", "kind", "context"],
    )


@app.command()
@handle_errors
def chat(
    message: Annotated[
        str | None, typer.Argument(help="Ask once; leave out for a conversation")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model id (default: the server's)")
    ] = None,
    system: Annotated[str | None, typer.Option(help="System prompt")] = None,
) -> None:
    """Chat with a model, streaming the answer."""
    client = Client.from_settings()
    history: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    if message is not None:
        _ask(client, model, [*history, {"role": "user", "content": message}])
        return
    typer.echo("Type a message; an empty line or Ctrl-D ends the conversation.", err=True)
    while (line := _read_line()) is not None:
        history.append({"role": "user", "content": line})
        history.append({"role": "assistant", "content": _ask(client, model, history)})


def _read_line() -> str | None:
    try:
        line = input("> ").strip()
    except EOFError:
        return None
    return line or None


def _ask(client: Client, model: str | None, messages: list[dict[str, Any]]) -> str:
    body = {"model": model or "", "messages": messages, "stream": True}
    parts: list[str] = []
    for chunk in client.stream("/v1/chat/completions", body):
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content") or ""
            parts.append(text)
            sys.stdout.write(text)
            sys.stdout.flush()
    sys.stdout.write("\n")
    return "".join(parts)


@app.command()
@handle_errors
def apply(
    filename: Annotated[
        list[str], typer.Option("--filename", "-f", help="File, directory or - for stdin")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing")
    ] = False,
    version_label: Annotated[
        str | None, typer.Option("--version-label", help="A label for the apps' new versions")
    ] = None,
) -> None:
    """Create or update resources from YAML (kinds: AIApp, Model, Provider)."""
    resources = load_resources(filename)
    body: dict[str, Any] = {"resources": resources, "dry_run": dry_run}
    if version_label:
        body["version_label"] = version_label
    if git := git_context(filename):
        body["git"] = git
    outcomes = Client.from_settings().post("/api/v1/apply", body)
    suffix = " (dry run)" if dry_run else ""
    for outcome in outcomes:
        version = f" (v{outcome['version']})" if outcome.get("version") else ""
        line = f"{outcome['kind'].lower()}/{outcome['name']} {outcome['action']}"
        typer.echo(line + (suffix or version))
        if dry_run and outcome.get("diff"):
            typer.echo(outcome["diff"], nl=False)


# -- providers ------------------------------------------------------------------------------


@providers_app.command("list")
@handle_errors
def providers_list() -> None:
    """List providers, their health and how many models each serves."""
    rows = Client.from_settings().get("/api/v1/providers")
    table(
        [
            (p["name"], p["kind"], p["base_url"], p["source"], len(p["models"]), p["error"] or "ok")
            for p in rows
        ],
        ["name", "kind", "url", "source", "models", "status"],
    )


@providers_app.command("add")
@handle_errors
def providers_add(
    name: str,
    url: Annotated[str, typer.Option(help="Base URL, e.g. https://api.together.xyz/v1")],
    key: Annotated[str | None, typer.Option(help="API key (stored encrypted)")] = None,
    kind: Annotated[str, typer.Option("--type", help="openai or ollama")] = "openai",
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Allow only these models")
    ] = None,
) -> None:
    """Add (or replace) an OpenAI-compatible or Ollama provider."""
    body = {"name": name, "kind": kind, "base_url": url, "api_key": key, "models": model or None}
    provider = Client.from_settings().post("/api/v1/providers", body)
    status = (
        f"error: {provider['error']}" if provider["error"] else f"{len(provider['models'])} models"
    )
    typer.echo(f"provider/{name} saved ({status})")


@providers_app.command("remove")
@handle_errors
def providers_remove(name: str) -> None:
    """Remove a provider; its models disappear from the model list."""
    Client.from_settings().delete(f"/api/v1/providers/{name}")
    typer.echo(f"provider/{name} removed")


@providers_app.command("refresh")
@handle_errors
def providers_refresh(name: str) -> None:
    """Ask a provider for its models again."""
    provider = Client.from_settings().post(f"/api/v1/providers/{name}/refresh", {})
    typer.echo("\n".join(provider["models"]) or f"no models ({provider['error']})")


# -- users and keys -----------------------------------------------------------------------------


@keys_app.command("create")
@handle_errors
def keys_create(
    user: Annotated[str | None, typer.Option(help="For this user (admins only)")] = None,
    name: Annotated[str, typer.Option(help="A label for the key")] = "default",
    expires_in_days: Annotated[
        float | None, typer.Option(help="Expire after this many days")
    ] = None,
) -> None:
    """Create an API key. It is printed once: store it now."""
    body = {"name": name, "user": user, "expires_in_days": expires_in_days}
    created = Client.from_settings().post("/api/v1/keys", body)
    typer.echo(created["key"])
    typer.echo(
        f"key {created['id']} for user {created['user_id']}; it will not be shown again", err=True
    )


@keys_app.command("list")
@handle_errors
def keys_list(
    user: Annotated[str | None, typer.Option(help="Another user's keys (admins)")] = None,
) -> None:
    """List API keys (never their secrets)."""
    rows = Client.from_settings().get("/api/v1/keys", user=user)
    table(
        [
            (
                k["id"],
                k["name"],
                k["prefix"] + "…",
                k["expires_at"],
                k["revoked_at"],
                k["last_used_at"],
            )
            for k in rows
        ],
        ["id", "name", "prefix", "expires", "revoked", "last used"],
    )


@keys_app.command("revoke")
@handle_errors
def keys_revoke(key_id: str) -> None:
    """Revoke an API key at once."""
    Client.from_settings().delete(f"/api/v1/keys/{key_id}")
    typer.echo(f"key {key_id} revoked")
