"""`homeport feedback`: thumbs up and down on answers, with the conversation, for evals."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table

feedback_app = typer.Typer(help="Feedback on answers (thumbs up or down).", no_args_is_help=True)


class RatingChoice(StrEnum):
    UP = "up"
    DOWN = "down"


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(feedback_app, name="feedback")


@feedback_app.command("list")
@handle_errors
def feedback_list(
    app: Annotated[
        str | None, typer.Option("--app", help="Every user's feedback on this app (its editors)")
    ] = None,
    rating: Annotated[RatingChoice | None, typer.Option(help="Only up or only down")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Feedback on answers, most recent first: yours; with --app, every user's on that app
    (for its editors); everyone's for admins. --json adds each conversation up to the
    rated answer, ready to become eval cases."""
    found = Client.from_settings().get(
        "/api/v1/feedback", app=app, rating=rating.value if rating else None, limit=limit
    )
    if as_json:
        print_json(found["data"])
        return
    rows = [
        (
            f["updated_at"][:19].replace("T", " "),
            f["rating"],
            _answered_by(f),
            f["user_id"],
            _short(_question(f)),
            _short(f["comment"] or ""),
        )
        for f in found["data"]
    ]
    table(rows, ["rated", "rating", "model", "user", "question", "comment"])


def _answered_by(feedback: dict[str, Any]) -> str:
    if feedback["app"] and feedback["app_version"]:
        return f"{feedback['model']}@{feedback['app_version']}"
    return str(feedback["model"] or "-")


def _question(feedback: dict[str, Any]) -> str:
    asked = [m["content"] for m in feedback["conversation"] if m["role"] == "user"]
    return str(asked[-1]) if asked else ""


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= 50 else line[:49] + "…"
