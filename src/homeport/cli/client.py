"""The CLI's HTTP client: finds the server and key, turns error responses into ApiError."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson

from homeport.settings import ClientSettings


class ApiError(Exception):
    """An error the server (or the network) reported; `homeport.cli.output` prints it."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class Client:
    def __init__(self, url: str, key: str | None, *, timeout: float = 600.0):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.url = url
        self._http = httpx.Client(
            base_url=url, headers=headers, timeout=httpx.Timeout(timeout, connect=10)
        )

    @classmethod
    def from_settings(cls) -> Client:
        url, key = ClientSettings().resolve()
        return cls(url, key)

    def request(self, method: str, path: str, *, json: Any = None, params: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach Homeport at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(_message(response), status=response.status_code, code=_code(response))
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def upload(self, path: str, files: Sequence[Path]) -> Any:
        """POST `files` as the multipart field `files`, streamed from disk."""
        with ExitStack() as stack:
            parts = [
                ("files", (file.name, stack.enter_context(file.open("rb")), _content_type(file)))
                for file in files
            ]
            try:
                response = self._http.post(path, files=parts)
            except httpx.HTTPError as exc:
                raise ApiError(f"cannot reach Homeport at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError(_message(response), status=response.status_code, code=_code(response))
        return response.json()

    def stream(self, path: str, body: Any) -> Iterator[dict[str, Any]]:
        """Server-sent events of a streamed response, as parsed objects."""
        try:
            with self._http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(_message(response), status=response.status_code)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    event = orjson.loads(data)
                    if "error" in event:
                        raise ApiError(str(event["error"].get("message", event["error"])))
                    yield event
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach Homeport at {self.url}: {exc}") from exc

    def close(self) -> None:
        self._http.close()


def _content_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def _code(response: httpx.Response) -> str | None:
    """The error's `code` (e.g. `authorization_pending`), when the server sent one."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return str(code) if code is not None else None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text[:300]}"
