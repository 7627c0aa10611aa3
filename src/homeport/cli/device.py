"""`homeport login --device`: sign the CLI in through a browser (device flow).

The server hands out a code; the person opens the verification page (anywhere: this machine
may have no browser), signs in there and approves the code; meanwhile the CLI polls until
the server hands it an API key of that person's, which it saves like `login --key`.
"""

from __future__ import annotations

import contextlib
import socket
import time
import webbrowser
from typing import Any

import typer

from homeport.cli.client import ApiError, Client

SLOW_DOWN_SECONDS = 5


def device_login(url: str, *, open_browser: bool = True) -> str:
    """Run the device flow against `url`; returns the new API key."""
    client = Client(url, None)
    try:
        started = client.post("/api/v1/auth/device", {"client_name": socket.gethostname()})
        _show(started, open_browser=open_browser)
        return _poll(client, started)
    finally:
        client.close()


def _show(started: dict[str, Any], *, open_browser: bool) -> None:
    typer.echo(f"To sign in, open {started['verification_uri']}")
    typer.echo(f"and enter the code: {started['user_code']}")
    typer.echo(f"(or open {started['verification_uri_complete']})")
    if open_browser:
        # No browser here (a server over SSH): the person opens the link on another device.
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(started["verification_uri_complete"])
    typer.echo("Waiting for approval…", err=True)


def _poll(client: Client, started: dict[str, Any]) -> str:
    interval = float(started["interval"])
    deadline = time.monotonic() + float(started["expires_in"])
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            created = client.post(
                "/api/v1/auth/device/token", {"device_code": started["device_code"]}
            )
        except ApiError as exc:
            if exc.code == "authorization_pending":
                continue
            if exc.code == "slow_down":
                interval += SLOW_DOWN_SECONDS
                continue
            raise
        return str(created["key"])
    raise ApiError("The sign-in was not approved in time; run `homeport login --device` again.")
