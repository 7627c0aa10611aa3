"""`homeport usage` and `homeport quotas`: usage reports, and quotas for admins."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import typer

from homeport.cli.client import Client
from homeport.cli.output import handle_errors, table

quotas_app = typer.Typer(
    help="Quotas: requests per minute and tokens per day (admins).", no_args_is_help=True
)

GROUPS = ("user", "key", "app", "model", "provider", "operation", "day", "hour")
_RELATIVE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.command("usage")(usage)
    app.add_typer(quotas_app, name="quotas")


@handle_errors
def usage(
    by: Annotated[
        str | None, typer.Option("--by", help="Group by, comma-separated: " + ", ".join(GROUPS))
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="From: an ISO date or time, or 30m, 24h, 7d ago")
    ] = None,
    until: Annotated[str | None, typer.Option(help="To (exclusive), as --since")] = None,
    user: Annotated[str | None, typer.Option(help="A user's id or name (admins)")] = None,
    key: Annotated[str | None, typer.Option(help="An API key's id")] = None,
    app: Annotated[str | None, typer.Option(help="An app")] = None,
    model: Annotated[str | None, typer.Option(help="A model, provider/name")] = None,
    provider: Annotated[str | None, typer.Option(help="A provider")] = None,
) -> None:
    """Show usage: yours, or everyone's for admins."""
    report = Client.from_settings().get(
        "/api/v1/usage",
        group_by=by,
        since=_when(since),
        until=_when(until),
        user=user,
        key=key,
        app=app,
        model=model,
        provider=provider,
    )
    groups: list[str] = report["group_by"]
    table(
        [_usage_row(row, groups) for row in report["data"]],
        [*groups, "requests", "prompt", "completion", "errors", "avg ms", "p95 ms"],
    )


def _usage_row(row: dict[str, Any], groups: list[str]) -> list[Any]:
    average = row["avg_latency_ms"]
    return [
        *(row.get(g) for g in groups),
        row["requests"],
        row["prompt_tokens"],
        row["completion_tokens"],
        row["errors"],
        None if average is None else round(average),
        row["p95_latency_ms"],
    ]


def _when(value: str | None) -> str | None:
    """`7d`, `24h`, `30m` ago as an ISO time (UTC); anything else is sent as it is."""
    if value is None:
        return None
    match = _RELATIVE.match(value.strip())
    if match is None:
        return value
    ago = timedelta(**{_UNITS[match[2]]: int(match[1])})
    return (datetime.now(UTC) - ago).isoformat()


def _path(subject_type: str, subject_id: str) -> str:
    return f"/api/v1/quotas/{quote(subject_type, safe='')}/{quote(subject_id, safe='')}"


@quotas_app.command("list")
@handle_errors
def quotas_list() -> None:
    """List every quota."""
    rows = Client.from_settings().get("/api/v1/quotas")["data"]
    table(
        [
            (
                q["subject_type"],
                q["subject_id"],
                q["requests_per_minute"],
                q["tokens_per_day"],
                q["updated_at"],
            )
            for q in rows
        ],
        ["type", "subject", "requests/min", "tokens/day", "updated"],
    )


@quotas_app.command("set")
@handle_errors
def quotas_set(
    subject_type: Annotated[str, typer.Argument(help="user, key, app or default")],
    subject_id: Annotated[
        str, typer.Argument(help="A user's id or name, a key's id, an app (default: *)")
    ] = "*",
    rpm: Annotated[
        int | None, typer.Option("--rpm", help="Requests per minute (left out: no limit)")
    ] = None,
    tokens_per_day: Annotated[
        int | None, typer.Option("--tokens-per-day", help="Tokens per day (left out: no limit)")
    ] = None,
) -> None:
    """Set a subject's quota, replacing the one it had."""
    body = {"requests_per_minute": rpm, "tokens_per_day": tokens_per_day}
    quota = Client.from_settings().request("PUT", _path(subject_type, subject_id), json=body)
    typer.echo(
        f"quota for {quota['subject_type']} {quota['subject_id']}: "
        f"{quota['requests_per_minute'] or 'unlimited'} requests/min, "
        f"{quota['tokens_per_day'] or 'unlimited'} tokens/day"
    )


@quotas_app.command("delete")
@handle_errors
def quotas_delete(
    subject_type: Annotated[str, typer.Argument(help="user, key, app or default")],
    subject_id: Annotated[str, typer.Argument(help="As for `quotas set`")] = "*",
) -> None:
    """Remove a subject's quota (a user without one falls back to the default)."""
    Client.from_settings().delete(_path(subject_type, subject_id))
    typer.echo(f"quota for {subject_type} {subject_id} deleted")
