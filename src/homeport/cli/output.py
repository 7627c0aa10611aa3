"""The one place errors become CLI messages and exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar

import orjson
import typer

from homeport.cli.client import ApiError
from homeport.errors import HomeportError

P = ParamSpec("P")
R = TypeVar("R")

EXIT_CODES = {401: 3, 403: 3, 404: 4}


def exit_code(status: int | None) -> int:
    if status is None or status >= 500:
        return 5
    return EXIT_CODES.get(status, 1)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ApiError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(exit_code(exc.status)) from exc
        except HomeportError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(1) from exc

    return wrapper


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(c) if c is not None else "-" for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    sys.stdout.write(line.rstrip() + "\n")
    for row in cells:
        sys.stdout.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )


JsonFlag = Annotated[bool, typer.Option("--json", help="Print the server's JSON answer")]


def print_json(data: Any) -> None:
    """The server's answer as indented JSON (for `--json`)."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
