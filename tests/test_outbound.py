"""The SSRF guard and the outbound client, against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.typedefs import Handler

from homeport.errors import (
    DocumentUnreadable,
    OutboundBlocked,
    PayloadTooLarge,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
)
from homeport.outbound import (
    MAX_REDIRECTS,
    USER_AGENT,
    OutboundClient,
    OutboundPolicy,
    refusal_reason,
)
from homeport.settings import Settings
from homeport.testing import BackgroundServer

pytestmark = pytest.mark.anyio


class Site:
    """A local web server that records the paths it was asked for."""

    def __init__(self, other: Site | None = None) -> None:
        self.seen: list[str] = []
        self.agents: list[str] = []
        self.server = BackgroundServer(_site_app(self, other))

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port


async def _page(request: web.Request) -> web.Response:
    return web.Response(text="<p>hello</p>", content_type="text/html", charset="utf-8")


async def _pdf(request: web.Request) -> web.Response:
    return web.Response(body=b"%PDF-1.7", content_type="application/pdf")


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * 5000, content_type="text/plain")


async def _stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(10):
        await response.write(b"y" * 1000)
    await response.write_eof()
    return response


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="nope")


async def _hop(request: web.Request) -> web.Response:
    left = int(request.match_info["n"])
    raise web.HTTPFound("/page" if left == 0 else f"/hop/{left - 1}")


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"authorization": request.headers.get("Authorization")})


def _site_app(site: Site, other: Site | None) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        site.seen.append(request.path_qs)
        site.agents.append(request.headers.get("User-Agent", ""))
        return await handler(request)

    async def away(request: web.Request) -> web.Response:
        target = request.query.get("to") or f"{other.url if other else ''}/page"
        raise web.HTTPTemporaryRedirect(target)

    app = web.Application(middlewares=[record])
    app.router.add_get("/page", _page)
    app.router.add_get("/doc.pdf", _pdf)
    app.router.add_get("/big", _big)
    app.router.add_get("/stream", _stream)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/hop/{n}", _hop)
    app.router.add_get("/away", away)
    app.router.add_get("/echo", _echo)
    return app


@pytest.fixture
def target() -> Iterator[Site]:
    """A server that refused requests must never reach."""
    site = Site()
    with site.server:
        yield site


@pytest.fixture
def site(target: Site) -> Iterator[Site]:
    """A second server whose /away redirects to `target`."""
    site = Site(target)
    with site.server:
        yield site


def _allowing(*entries: str) -> OutboundClient:
    return OutboundClient(OutboundPolicy(entries))


@pytest.fixture
async def client(site: Site) -> AsyncIterator[OutboundClient]:
    """A client allowed to reach `site` (only)."""
    async with OutboundClient(OutboundPolicy([f"127.0.0.1:{site.port}"])) as c:
        yield c


# -- the policy ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fd00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "metadata"),
        ("2002:a00:1::", "private"),
        ("64:ff9b::7f00:1", "loopback"),
    ],
)
def test_non_public_addresses_are_refused_by_default(ip: str, reason: str) -> None:
    refused = refusal_reason(ipaddress.ip_address(ip))
    assert refused is not None and reason in refused
    with pytest.raises(OutboundBlocked) as caught:
        OutboundPolicy().check_address(ip, 80, ip)
    assert caught.value.code == "url_not_allowed"


@pytest.mark.parametrize(
    "ip", ["93.184.215.14", "2606:4700::1", "::ffff:8.8.8.8", "2002:808:808::"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert refusal_reason(ipaddress.ip_address(ip)) is None
    OutboundPolicy().check_address("example.com", 443, ip)


@pytest.mark.parametrize(
    ("entry", "host", "port", "ip"),
    [
        ("intranet.example", "Intranet.Example.", 8080, "10.0.0.5"),
        ("intranet.example:8080", "intranet.example", 8080, "10.0.0.5"),
        ("10.0.0.0/8", "any.example", 443, "10.9.9.9"),
        ("10.0.0.0/8:443", "any.example", 443, "10.9.9.9"),
        ("10.0.0.5", "10.0.0.5", 80, "10.0.0.5"),
        ("10.0.0.0/8", "::ffff:10.0.0.5", 80, "::ffff:10.0.0.5"),
        ("::1", "::1", 80, "::1"),
        ("[::1]:8080", "::1", 8080, "::1"),
        ("fd00::/8", "v6.example", 80, "fd12::1"),
    ],
)
def test_allow_entries_admit_what_they_name(entry: str, host: str, port: int, ip: str) -> None:
    OutboundPolicy([entry]).check_address(host, port, ip)


@pytest.mark.parametrize(
    ("entry", "host", "port", "ip"),
    [
        ("intranet.example", "other.example", 80, "10.0.0.5"),
        ("intranet.example:8080", "intranet.example", 8081, "10.0.0.5"),
        ("10.0.0.0/8", "any.example", 80, "192.168.0.1"),
        ("10.0.0.0/8:443", "any.example", 80, "10.9.9.9"),
        ("[::1]:8080", "::1", 9090, "::1"),
    ],
)
def test_allow_entries_admit_nothing_else(entry: str, host: str, port: int, ip: str) -> None:
    with pytest.raises(OutboundBlocked):
        OutboundPolicy([entry]).check_address(host, port, ip)


@pytest.mark.parametrize(
    "entry",
    [
        "not a host",
        "10.0.0.0/33",
        "999.1.1.1",
        "host:99999",
        "host:http",
        "[::1",
        "http://x",
        "1::2::3",
    ],
)
def test_invalid_allow_entries_are_named(entry: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        OutboundPolicy(["ok.example", entry])
    assert entry in caught.value.message


def test_run_time_entries_extend_the_settings_entries() -> None:
    base = OutboundPolicy.from_settings(Settings(outbound_allow="10.0.0.0/8, intranet.example"))
    policy = base.with_extra(["192.168.1.0/24"])
    assert policy.entries == ["10.0.0.0/8", "intranet.example", "192.168.1.0/24"]
    policy.check_address("nas.example", 80, "192.168.1.20")
    policy.check_address("db.example", 80, "10.0.0.1")
    with pytest.raises(OutboundBlocked):
        base.check_address("nas.example", 80, "192.168.1.20")
    with pytest.raises(OutboundBlocked):
        policy.with_extra([]).check_address("nas.example", 80, "192.168.1.20")


# -- refused before connecting ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/page",
        "http://[::1]:{port}/page",
        "http://[::ffff:127.0.0.1]:{port}/page",
        "http://localhost:{port}/page",
        "http://LocalHost:{port}/page",
        "http://0x7f.1:{port}/page",
        "http://2130706433:{port}/page",
    ],
)
async def test_loopback_is_refused_without_a_connection(target: Site, url: str) -> None:
    async with OutboundClient() as client:
        with pytest.raises(OutboundBlocked):
            await client.fetch(url.format(port=target.port))
    assert target.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.0.1:8080/",
        "http://[fe80::1]/",
        "http://0.0.0.0:{port}/page",
    ],
)
async def test_private_and_metadata_addresses_are_refused(target: Site, url: str) -> None:
    async with OutboundClient() as client:
        with pytest.raises(OutboundBlocked) as caught:
            await client.fetch(url.format(port=target.port), timeout=2)
    assert "only when an administrator allows it" in caught.value.message
    assert target.seen == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/"])
async def test_only_http_and_https(url: str) -> None:
    async with OutboundClient() as client:
        with pytest.raises(OutboundBlocked, match="only http and https"):
            await client.fetch(url)


class StaticResolver(AbstractResolver):
    """Answers with fixed addresses, standing in for a DNS server a user controls."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host=ip, port=port, family=socket.AF_INET, proto=0, flags=0
            )
            for ip in self.answers[host]
        ]

    async def close(self) -> None:
        pass


async def test_a_name_resolving_to_a_private_address_is_refused(target: Site) -> None:
    resolver = StaticResolver({"rebind.example": ["127.0.0.1"]})
    async with OutboundClient(resolver=resolver) as client:
        with pytest.raises(OutboundBlocked, match=r"'rebind\.example' resolves to a loopback"):
            await client.fetch(f"http://rebind.example:{target.port}/page")
    assert target.seen == []


async def test_disallowed_addresses_are_dropped_from_an_answer(site: Site) -> None:
    resolver = StaticResolver({"mixed.example": ["10.255.255.1", "127.0.0.1"]})
    policy = OutboundPolicy([f"127.0.0.1:{site.port}"])
    async with OutboundClient(policy, resolver=resolver, timeout=5) as client:
        page = await client.fetch(f"http://mixed.example:{site.port}/page")
    assert page.status == 200
    assert site.seen == ["/page"]


# -- allowed destinations -----------------------------------------------------------------


async def test_fetch_an_allowed_page(client: OutboundClient, site: Site) -> None:
    page = await client.fetch(site.url + "/page", accept={"text/html"})
    assert page.status == 200
    assert page.content_type == "text/html"
    assert page.charset == "utf-8"
    assert page.text() == "<p>hello</p>"
    assert page.final_url == page.url == site.url + "/page"
    assert page.headers["content-type"].startswith("text/html")
    assert site.agents == [USER_AGENT]
    assert USER_AGENT.startswith("HomeportBot/")


@pytest.mark.parametrize("entry", ["localhost", "localhost:{port}", "127.0.0.0/8"])
async def test_allow_by_host_host_port_or_cidr(site: Site, entry: str) -> None:
    async with _allowing(entry.format(port=site.port)) as client:
        page = await client.fetch(f"http://localhost:{site.port}/page")
    assert page.data == b"<p>hello</p>"


async def test_host_port_entry_admits_only_that_port(site: Site, target: Site) -> None:
    async with _allowing(f"127.0.0.1:{site.port}") as client:
        await client.fetch(site.url + "/page")
        with pytest.raises(OutboundBlocked):
            await client.fetch(target.url + "/page")
    assert target.seen == []


async def test_run_time_policy_change_applies_to_the_next_fetch(site: Site) -> None:
    async with OutboundClient() as client:
        with pytest.raises(OutboundBlocked):
            await client.fetch(f"http://localhost:{site.port}/page")
        client.policy = client.policy.with_extra(["localhost"])
        assert (await client.fetch(f"http://localhost:{site.port}/page")).status == 200


# -- redirects ----------------------------------------------------------------------------


async def test_redirects_are_followed(client: OutboundClient, site: Site) -> None:
    page = await client.fetch(site.url + f"/hop/{MAX_REDIRECTS - 1}")
    assert page.final_url == site.url + "/page"
    assert page.url == site.url + f"/hop/{MAX_REDIRECTS - 1}"
    assert len(page.redirects) == MAX_REDIRECTS


async def test_too_many_redirects(client: OutboundClient, site: Site) -> None:
    with pytest.raises(UpstreamError, match="redirected more than 5 times"):
        await client.fetch(site.url + f"/hop/{MAX_REDIRECTS}")
    assert len(site.seen) == MAX_REDIRECTS + 1


async def test_a_redirect_to_a_disallowed_server_is_refused(
    client: OutboundClient, site: Site, target: Site
) -> None:
    with pytest.raises(OutboundBlocked):
        await client.fetch(site.url + "/away")
    assert site.seen == ["/away"]
    assert target.seen == []


@pytest.mark.parametrize(
    "to", ["http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "http://localhost/"]
)
async def test_a_redirect_to_a_refused_url(client: OutboundClient, site: Site, to: str) -> None:
    with pytest.raises(OutboundBlocked):
        await client.fetch(site.url + "/away?to=" + to)


async def test_credentials_are_not_sent_to_another_origin(site: Site, target: Site) -> None:
    headers = {"Authorization": "Bearer secret"}
    async with _allowing("127.0.0.1") as client:
        same = await client.fetch(site.url + "/echo", headers=headers)
        other = await client.fetch(site.url + "/away?to=" + target.url + "/echo", headers=headers)
    assert b"Bearer secret" in same.data
    assert b'"authorization": null' in other.data


# -- limits and failures ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/big", "/stream"])
async def test_the_size_cap(client: OutboundClient, site: Site, path: str) -> None:
    assert len((await client.fetch(site.url + path)).data) in (5000, 10000)
    with pytest.raises(PayloadTooLarge, match="limit of 2000 bytes"):
        await client.fetch(site.url + path, max_bytes=2000)


async def test_the_timeout(client: OutboundClient, site: Site) -> None:
    with pytest.raises(UpstreamTimeout, match=r"within 0\.2 s"):
        await client.fetch(site.url + "/slow", timeout=0.2)


async def test_content_type_refusal(client: OutboundClient, site: Site) -> None:
    with pytest.raises(DocumentUnreadable, match="application/pdf"):
        await client.fetch(site.url + "/doc.pdf", accept=["text/html"])
    page = await client.fetch(site.url + "/doc.pdf", accept=["text/html", "application/*"])
    assert page.data == b"%PDF-1.7"


@pytest.mark.parametrize("code", [404, 500, 503])
async def test_http_errors(client: OutboundClient, site: Site, code: int) -> None:
    with pytest.raises(UpstreamError) as caught:
        await client.fetch(site.url + f"/status/{code}")
    assert caught.value.status == code
    assert str(code) in caught.value.message


async def test_a_server_that_is_down_is_unavailable() -> None:
    with BackgroundServer(web.Application()) as gone:
        port = gone.port
    async with _allowing(f"127.0.0.1:{port}") as client:
        with pytest.raises(UpstreamUnavailable, match="unreachable"):
            await client.fetch(f"http://127.0.0.1:{port}/")
