"""Talking to upstream HTTP APIs with aiohttp: one place translates its failures."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import orjson

from homeport.errors import (
    HomeportError,
    InvalidRequest,
    ModelNotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

MAX_ERROR_BODY = 4096


def create_http_session(*, connect_timeout: float, read_timeout: float) -> aiohttp.ClientSession:
    """The one client session for upstream calls: pooled, no overall deadline for streams."""
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=connect_timeout, sock_read=read_timeout
    )
    return aiohttp.ClientSession(
        connector=connector, timeout=timeout, json_serialize=lambda o: orjson.dumps(o).decode()
    )


@asynccontextmanager
async def upstream_request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    provider: str,
    model: str | None = None,
    **kwargs: Any,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """Send a request; connection failures, timeouts and error statuses become our errors.

    The response is closed (not returned to the pool) when the caller stops early, which
    is how a client that goes away cancels the upstream generation.
    """
    try:
        async with http.request(method, url, **kwargs) as response:
            if response.status >= 400:
                raise await _status_error(response, provider=provider, model=model)
            try:
                yield response
            except BaseException:
                response.close()
                raise
    except HomeportError:
        raise
    except TimeoutError as exc:
        raise UpstreamTimeout(f"provider '{provider}' did not answer in time") from exc
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnavailable(f"provider '{provider}' is unreachable: {exc.os_error}") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"provider '{provider}' failed: {exc}") from exc


async def _status_error(
    response: aiohttp.ClientResponse, *, provider: str, model: str | None
) -> HomeportError:
    body = (await response.content.read(MAX_ERROR_BODY)).decode("utf-8", "replace")
    detail = _error_message(body)
    status = response.status
    where = f"provider '{provider}'"
    if status == 429:
        retry = response.headers.get("Retry-After")
        return RateLimited(
            f"{where} is rate limiting: {detail}",
            retry_after=float(retry) if retry and retry.isdigit() else None,
        )
    if status == 404 and model is not None:
        return ModelNotFound(f"{provider}/{model}", hint=f"({where} said: {detail})")
    if status in (400, 413, 422):
        return InvalidRequest(f"{where} rejected the request: {detail}")
    if status in (401, 403):
        return UpstreamError(f"{where} refused Homeport's credentials: {detail}", status=status)
    return UpstreamError(f"{where} answered {status}: {detail}", status=status)


def _error_message(body: str) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.strip()[:500] or "(empty body)"
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])[:500]
        if isinstance(error, str):
            return error[:500]
    return body.strip()[:500]


def parse_json(raw: bytes, *, provider: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"provider '{provider}' sent invalid JSON") from exc


class UpstreamClient:
    """One provider's base URL, headers and name, for JSON calls and streamed lines."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        *,
        provider: str,
        headers: dict[str, str] | None = None,
    ):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.provider = provider
        self.headers = headers or {}

    async def get_json(self, path: str) -> Any:
        async with upstream_request(
            self.http, "GET", self.base_url + path, provider=self.provider, headers=self.headers
        ) as response:
            return parse_json(await response.read(), provider=self.provider)

    async def post_json(self, path: str, payload: dict[str, Any], *, model: str) -> dict[str, Any]:
        async with self._post(path, payload, model=model) as response:
            data = parse_json(await response.read(), provider=self.provider)
        if not isinstance(data, dict):
            raise UpstreamError(f"provider '{self.provider}' sent a non-object response")
        return data

    async def lines(
        self, path: str, payload: dict[str, Any], *, model: str, accept: str | None = None
    ) -> AsyncGenerator[bytes, None]:
        """The response body line by line, for server-sent events and NDJSON streams."""
        async with self._post(path, payload, model=model, accept=accept) as response:
            async for line in response.content:
                yield line

    def event(self, raw: bytes) -> dict[str, Any] | None:
        """One streamed JSON object; an error the upstream reports mid-stream is raised."""
        event = parse_json(raw, provider=self.provider)
        if not isinstance(event, dict):
            return None
        if event.get("error"):
            raise UpstreamError(f"provider '{self.provider}' failed mid-stream: {event['error']}")
        return event

    def _post(
        self, path: str, payload: dict[str, Any], *, model: str, accept: str | None = None
    ) -> AbstractAsyncContextManager[aiohttp.ClientResponse]:
        headers = {**self.headers, "Accept": accept} if accept else self.headers
        return upstream_request(
            self.http,
            "POST",
            self.base_url + path,
            provider=self.provider,
            model=model,
            json=payload,
            headers=headers,
        )
