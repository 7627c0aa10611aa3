"""Outbound HTTP to URLs that users give (web pages, API tools), guarded against SSRF.

Three pieces:

- `OutboundPolicy` decides whether an address may be reached: private, loopback,
  link-local (cloud metadata included), multicast, reserved and shared addresses are
  refused unless an allow entry (a host, `host:port` or CIDR) names them.
- `GuardedResolver` resolves names and keeps only the addresses the policy allows, so
  aiohttp connects to exactly the checked IPs: no second lookup, no DNS-rebinding window.
- `OutboundClient` fetches a URL through both, following redirects itself (each hop is
  checked), with a size cap, a deadline and a content-type filter. `fetch` GETs a document
  and treats an error status as an error; `request` sends any method with a body (API
  tools) and returns every status as an answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from homeport import __version__
from homeport.errors import (
    DocumentUnreadable,
    HomeportError,
    OutboundBlocked,
    PayloadTooLarge,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
)

if TYPE_CHECKING:
    from homeport.settings import Settings

__all__ = [
    "MAX_REDIRECTS",
    "ROBOTS_AGENT",
    "USER_AGENT",
    "Fetched",
    "GuardedResolver",
    "OutboundClient",
    "OutboundPolicy",
    "refusal_reason",
]

logger = logging.getLogger(__name__)

ROBOTS_AGENT = "HomeportBot"
USER_AGENT = f"{ROBOTS_AGENT}/{__version__} (+https://homeport.dev/bot)"
SCHEMES = frozenset({"http", "https"})
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
_CHUNK = 64 * 1024

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_HOSTNAME = re.compile(
    r"(?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
)
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)


# -- the policy ---------------------------------------------------------------------------


def refusal_reason(address: IPAddress) -> str | None:
    """Why an address is refused by default ("a loopback address"), or None if it is public.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return refusal_reason(embedded)
    if address in _METADATA:
        return "the cloud metadata service"
    for label, refused in _CATEGORIES:
        if refused(address):
            return label
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in prefix for prefix in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _site_local(address: IPAddress) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.is_site_local


_CATEGORIES: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("an unspecified address", lambda a: a.is_unspecified),
    ("a loopback address", lambda a: a.is_loopback),
    ("a link-local address", lambda a: a.is_link_local),
    ("a multicast address", lambda a: a.is_multicast),
    ("a shared (carrier-grade NAT) address", lambda a: a in _SHARED),
    ("a site-local address", _site_local),
    ("a reserved address", lambda a: a.is_reserved),
    ("a private address", lambda a: a.is_private),
    ("not a public address", lambda a: not a.is_global),
)


@dataclass(frozen=True, slots=True)
class _AllowEntry:
    text: str
    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def matches(self, host: str, port: int, address: IPAddress | None) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is None:
            return host == self.host
        return address is not None and any(
            form.version == self.network.version and form in self.network
            for form in _forms(address)
        )


def _forms(address: IPAddress) -> tuple[IPAddress, ...]:
    embedded = _embedded_ipv4(address)
    return (address,) if embedded is None else (address, embedded)


def _parse_entry(entry: str) -> _AllowEntry:
    text = entry.strip().lower()
    try:
        host, port = _split_port(text)
        network = _network(host)
    except ValueError as exc:
        raise _bad_entry(entry) from exc
    if network is not None:
        return _AllowEntry(text, network=network, port=port)
    host = host.rstrip(".")
    if not _HOSTNAME.fullmatch(host) or host.rpartition(".")[2].isdigit():
        raise _bad_entry(entry)
    return _AllowEntry(text, host=host, port=port)


def _bad_entry(entry: str) -> ValidationFailed:
    return ValidationFailed(
        f"outbound allow entry '{entry}' is not a host, host:port, IP address or CIDR",
        param="outbound_allow",
    )


def _split_port(text: str) -> tuple[str, int | None]:
    """'host:443' -> ('host', 443); '[::1]:80' -> ('::1', 80); '::1' -> ('::1', None)."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(text)
        return host, _port(rest[1:]) if rest else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, _port(port)
    return text, None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(text)
    return int(text)


def _network(host: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(host, strict=False)
    except ValueError:
        if "/" in host or ":" in host:
            raise
        return None


def _ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _numeric(host: str) -> bool:
    """Hosts like '2130706433' or '0x7f.1' that the C library reads as an IPv4 address."""
    try:
        socket.inet_aton(host)
    except OSError:
        return False
    return True


class OutboundPolicy:
    """Which destinations outbound requests may reach.

    `allow` comes from the settings (`HOMEPORT_OUTBOUND_ALLOW`); `extra` is what admins add
    at run time. Every entry is validated up front: a bad one is a `ValidationFailed`.
    """

    def __init__(self, allow: Iterable[str] = (), *, extra: Iterable[str] = ()) -> None:
        self.allow = tuple(_parse_entry(e) for e in allow if e.strip())
        self.extra = tuple(_parse_entry(e) for e in extra if e.strip())

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls(settings.outbound_allow)

    @property
    def entries(self) -> list[str]:
        """The allow entries (lower-cased), the settings' first."""
        return [entry.text for entry in (*self.allow, *self.extra)]

    def with_extra(self, entries: Iterable[str]) -> OutboundPolicy:
        """The same settings entries with `entries` as the run-time list (replacing it)."""
        return OutboundPolicy([entry.text for entry in self.allow], extra=entries)

    def allows(self, host: str, port: int, address: IPAddress | None) -> bool:
        """Whether an allow entry names this host, host:port or address."""
        host = host.lower().rstrip(".")
        return any(e.matches(host, port, address) for e in (*self.allow, *self.extra))

    def check_address(self, host: str, port: int, ip: str) -> None:
        """Raise `OutboundBlocked` unless `host` may be reached at `ip`, `port`."""
        address = ipaddress.ip_address(ip)
        if self.allows(host, port, address):
            return
        reason = refusal_reason(address)
        if reason is None:
            return
        unless = "which Homeport fetches from only when an administrator allows it"
        if _ip(host) is not None:
            raise OutboundBlocked(f"{ip} is {reason}, {unless}")
        logger.info("refused %s port %s at %s (%s)", host, port, ip, reason)
        raise OutboundBlocked(f"'{host}' resolves to {reason}, {unless}")

    def check_url(self, url: str | URL) -> URL:
        """The parsed URL if its scheme is http(s) and an IP-literal host is allowed."""
        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"'{url}' is not a valid URL", param="url") from exc
        if parsed.scheme not in SCHEMES:
            scheme = parsed.scheme or "(none)"
            raise OutboundBlocked(f"only http and https URLs can be fetched, not '{scheme}'")
        host = parsed.raw_host
        if not host or parsed.port is None:
            raise ValidationFailed(f"'{url}' has no host", param="url")
        if _ip(host) is not None:
            self.check_address(host, parsed.port, host)
        elif _numeric(host):
            raise OutboundBlocked(f"'{host}' is not written as a plain IP address")
        return parsed


# -- the resolver -------------------------------------------------------------------------


class GuardedResolver(AbstractResolver):
    """Resolves with `inner` (a threaded getaddrinfo by default) and keeps allowed addresses.

    When no address is allowed the lookup fails with `OutboundBlocked`. aiohttp does not ask
    the resolver about IP-literal hosts: `OutboundPolicy.check_url` covers those.
    """

    def __init__(
        self, policy: Callable[[], OutboundPolicy], inner: AbstractResolver | None = None
    ) -> None:
        self._policy = policy
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._inner is None:
            self._inner = aiohttp.ThreadedResolver()
        results = await self._inner.resolve(host, port, family)
        policy = self._policy()
        allowed: list[ResolveResult] = []
        refusal: OutboundBlocked | None = None
        for result in results:
            try:
                policy.check_address(host, port, result["host"])
            except OutboundBlocked as exc:
                refusal = refusal or exc
            else:
                allowed.append(result)
        if not allowed and refusal is not None:
            raise refusal
        return allowed

    async def close(self) -> None:
        if self._inner is not None:
            await self._inner.close()


# -- the client ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched resource: `url` as asked, `final_url` after redirects."""

    url: str
    final_url: str
    status: int
    content_type: str
    charset: str | None
    data: bytes
    headers: Mapping[str, str] = field(repr=False)
    redirects: tuple[str, ...] = ()

    def text(self) -> str:
        """The body decoded with its charset (UTF-8 if none or unknown), errors replaced."""
        try:
            return self.data.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.data.decode("utf-8", errors="replace")


class OutboundClient:
    """Fetches user-given URLs through the SSRF guard. Use as `async with` or `aclose()`.

    Cookies are never kept and proxy variables are ignored. `policy` may be replaced at run
    time; it applies to every new connection.
    """

    def __init__(
        self,
        policy: OutboundPolicy | None = None,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = policy or OutboundPolicy()
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._resolver = GuardedResolver(lambda: self.policy, resolver)
        self._http: aiohttp.ClientSession | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, extra: Iterable[str] = ()) -> OutboundClient:
        return cls(
            OutboundPolicy(settings.outbound_allow, extra=extra),
            max_bytes=settings.fetch_max_bytes,
            timeout=settings.fetch_timeout_seconds,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (becomes UpstreamTimeout)
        accept: Collection[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """GET `url`; `accept` lists the content types wanted (`type/*` allowed)."""
        deadline = timeout or self.timeout
        request = _Request(
            url=url,
            max_bytes=max_bytes or self.max_bytes,
            accept=None if accept is None else frozenset(a.lower() for a in accept),
            headers=_request_headers(accept, headers),
        )
        return await self._deadline(request, deadline)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        max_bytes: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (becomes UpstreamTimeout)
    ) -> Fetched:
        """Send `method` to `url` (query `params` added); any status is returned, not raised.

        Redirects are followed as browsers do: 303 (and 301/302 after anything but GET or
        HEAD) continue as a GET without the body; 307 and 308 repeat the request.
        """
        target = URL(url).update_query(dict(params)) if params else URL(url)
        deadline = timeout or self.timeout
        request = _Request(
            url=str(target),
            max_bytes=max_bytes or self.max_bytes,
            accept=None,
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            method=method.upper(),
            body=body,
            raise_for_status=False,
        )
        return await self._deadline(request, deadline)

    async def _deadline(self, request: _Request, deadline: float) -> Fetched:
        try:
            async with asyncio.timeout(deadline):
                return await self._follow(request)
        except TimeoutError as exc:
            raise UpstreamTimeout(f"{request.url} did not answer within {deadline:g} s") from exc

    async def _follow(self, request: _Request) -> Fetched:
        current = self.policy.check_url(request.url)
        redirects: list[str] = []
        while True:
            async with self._send(current, request) as response:
                location = _redirect_location(response)
                if location is None:
                    return await _read(request, response, redirects)
            if len(redirects) == MAX_REDIRECTS:
                raise UpstreamError(f"{request.url} redirected more than {MAX_REDIRECTS} times")
            redirects.append(str(current))
            target = self.policy.check_url(_join(current, location))
            request = _redirected(request, response.status, current, target)
            current = target

    @asynccontextmanager
    async def _send(self, url: URL, request: _Request) -> AsyncIterator[aiohttp.ClientResponse]:
        try:
            async with self._session().request(
                request.method,
                url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
            ) as r:
                yield r
        except (HomeportError, TimeoutError):
            raise
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamUnavailable(f"{url.host} is unreachable: {exc.os_error}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"fetching {url} failed: {exc}") from exc

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            connector = aiohttp.TCPConnector(resolver=self._resolver, use_dns_cache=False)
            self._http = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._http


@dataclass(frozen=True, slots=True)
class _Request:
    url: str
    max_bytes: int
    accept: frozenset[str] | None
    headers: Mapping[str, str]
    method: str = "GET"
    body: bytes | None = None
    raise_for_status: bool = True


def _redirected(request: _Request, status: int, source: URL, target: URL) -> _Request:
    """The request the next hop gets: credentials stay with their origin, and a 303 (or a
    301/302 after a method other than GET or HEAD) becomes a GET without a body."""
    headers = _hop_headers(request.headers, source, target)
    if status == 303 or (status in (301, 302) and request.method not in ("GET", "HEAD")):
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return replace(request, method="GET", body=None, headers=headers)
    return replace(request, headers=headers)


def _request_headers(
    accept: Collection[str] | None, headers: Mapping[str, str] | None
) -> dict[str, str]:
    wanted = ", ".join(accept) if accept else "*/*"
    return {"User-Agent": USER_AGENT, "Accept": wanted, **(headers or {})}


def _redirect_location(response: aiohttp.ClientResponse) -> str | None:
    if response.status not in REDIRECT_STATUSES:
        return None
    return response.headers.get("Location") or None


def _join(base: URL, location: str) -> URL:
    try:
        return base.join(URL(location))
    except (TypeError, ValueError) as exc:
        raise UpstreamError(f"{base} redirected to an invalid URL: {location[:200]}") from exc


def _hop_headers(headers: Mapping[str, str], source: URL, target: URL) -> Mapping[str, str]:
    """Credentials the caller gave are not sent on to another origin."""
    if source.origin() == target.origin():
        return headers
    return {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}


def _accepts(accept: frozenset[str], content_type: str) -> bool:
    major = content_type.partition("/")[0]
    return content_type in accept or f"{major}/*" in accept or "*/*" in accept


async def _read(
    request: _Request, response: aiohttp.ClientResponse, redirects: list[str]
) -> Fetched:
    if request.raise_for_status and response.status >= 400:
        reason = response.reason or "error"
        raise UpstreamError(
            f"{response.url} answered {response.status} {reason}", status=response.status
        )
    content_type = response.content_type.lower()
    if request.accept is not None and not _accepts(request.accept, content_type):
        wanted = ", ".join(sorted(request.accept))
        raise DocumentUnreadable(f"{response.url} is {content_type}, not one of: {wanted}")
    return Fetched(
        url=request.url,
        final_url=str(response.url),
        status=response.status,
        content_type=content_type,
        charset=response.charset,
        data=await _read_capped(response, request.max_bytes),
        headers=response.headers,
        redirects=tuple(redirects),
    )


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    length = response.content_length
    if length is not None and length > limit:
        raise _too_large(response, limit)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise _too_large(response, limit)
    return bytes(body)


def _too_large(response: aiohttp.ClientResponse, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"{response.url} is larger than the limit of {limit} bytes")
