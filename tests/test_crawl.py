"""Crawling real local web sites through the guarded client."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from homeport.errors import OutboundBlocked, ValidationFailed
from homeport.knowledge.crawl import CrawlResult, crawl, extract_links, normalise_url
from homeport.outbound import Fetched, OutboundClient, OutboundPolicy
from homeport.testing import BackgroundServer

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Reply:
    body: str | bytes = ""
    type: str = "text/html"
    status: int = 200
    location: str | None = None
    wait: float = 0.0


class Web:
    """A local web site serving fixed replies and recording what it was asked, and when."""

    def __init__(self, pages: dict[str, Reply]) -> None:
        self.pages = pages
        self.seen: list[str] = []
        self.started: list[float] = []
        self.in_flight = 0
        self.most_in_flight = 0
        app = web.Application()
        app.router.add_get("/{path:.*}", self._serve)
        self.server = BackgroundServer(app)

    @property
    def url(self) -> str:
        return self.server.url

    async def _serve(self, request: web.Request) -> web.Response:
        self.seen.append(request.path)
        self.started.append(time.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            return await self._reply(self.pages.get(request.path, Reply(status=404)))
        finally:
            self.in_flight -= 1

    async def _reply(self, reply: Reply) -> web.Response:
        await asyncio.sleep(reply.wait)
        headers = {"Location": reply.location} if reply.location else None
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        return web.Response(
            body=body, status=reply.status, content_type=reply.type, headers=headers
        )


def _html(*hrefs: str, base: str | None = None) -> Reply:
    head = f'<head><base href="{base}"></head>' if base else ""
    links = "".join(f'<a href="{href}">link</a>' for href in hrefs)
    return Reply(f"<html>{head}<body>{links}</body></html>")


@pytest.fixture
def other() -> Iterator[Web]:
    """Another site, with no robots.txt."""
    site = Web({"/page": _html()})
    with site.server:
        yield site


@pytest.fixture
def site(other: Web) -> Iterator[Web]:
    site = Web({})
    with site.server:
        site.pages.update(
            {
                "/robots.txt": Reply("User-agent: *\nDisallow: /private\n", type="text/plain"),
                "/": _html(
                    "a.html",
                    "/b#top",
                    "/b",
                    "./a.html#x",
                    "mailto:someone@example.com",
                    "javascript:void(0)",
                    "ftp://example.com/file",
                    f"{other.url}/page",
                    "doc.pdf",
                    "/broken",
                    "/private/secret",
                    "/redir",
                    f"HTTP://127.0.0.1:{site.server.port}/b",
                ),
                "/a.html": _html("c", "sub/d", "../"),
                "/b": _html("/", "/a.html"),
                "/c": _html(),
                "/doc.pdf": Reply(b'%PDF-1.7 <a href="/pdf-link">', type="application/pdf"),
                "/broken": Reply("down", status=500),
                "/private/secret": _html(),
                "/redir": Reply(status=302, location="/c"),
                "/sub/d": _html("x", base="/other/"),
                "/other/x": _html(),
            }
        )
        yield site


@pytest.fixture
async def client(site: Web, other: Web) -> AsyncIterator[OutboundClient]:
    policy = OutboundPolicy([f"127.0.0.1:{site.server.port}", f"127.0.0.1:{other.server.port}"])
    async with OutboundClient(policy, timeout=5) as c:
        yield c


async def _crawl(client: OutboundClient, url: str, **options: object) -> list[CrawlResult]:
    return [result async for result in crawl(client, url, **options)]  # type: ignore[arg-type]


def _paths(results: list[CrawlResult], base: str) -> set[str]:
    return {r.url.removeprefix(base) for r in results}


async def test_depth_zero_is_just_the_start_page(client: OutboundClient, site: Web) -> None:
    results = await _crawl(client, site.url + "/")
    assert [(r.url, r.depth, r.ok) for r in results] == [(site.url + "/", 0, True)]
    assert site.seen == ["/robots.txt", "/"]


async def test_depth_one_follows_the_start_pages_links(
    client: OutboundClient, site: Web, other: Web
) -> None:
    results = await _crawl(client, site.url + "/", depth=1)
    assert _paths(results, site.url) == {"/", "/a.html", "/b", "/doc.pdf", "/broken", "/redir"}
    assert sorted(site.seen) == sorted(
        ["/robots.txt", "/", "/a.html", "/b", "/doc.pdf", "/broken", "/redir", "/c"]
    )
    assert other.seen == []


async def test_a_failing_page_is_reported_and_the_rest_continue(
    client: OutboundClient, site: Web
) -> None:
    results = {r.url: r for r in await _crawl(client, site.url + "/", depth=1)}
    broken = results[site.url + "/broken"]
    assert not broken.ok and broken.error is not None and "500" in broken.error
    assert sum(r.ok for r in results.values()) == 5


async def test_non_html_pages_are_yielded_but_not_parsed(client: OutboundClient, site: Web) -> None:
    results = {r.url: r for r in await _crawl(client, site.url + "/", depth=2)}
    pdf = results[site.url + "/doc.pdf"].page
    assert pdf is not None and pdf.content_type == "application/pdf"
    assert "/pdf-link" not in site.seen


async def test_redirect_targets_are_not_fetched_again(client: OutboundClient, site: Web) -> None:
    results = await _crawl(client, site.url + "/", depth=3)
    assert site.seen.count("/c") == 1
    redirected = next(r for r in results if r.url == site.url + "/redir")
    assert redirected.page is not None and redirected.page.final_url == site.url + "/c"
    assert site.url + "/c" not in {r.url for r in results}


async def test_each_page_is_fetched_once_and_depth_is_breadth_first(
    client: OutboundClient, site: Web
) -> None:
    results = await _crawl(client, site.url + "/", depth=3)
    assert len(site.seen) == len(set(site.seen))
    depths = {r.url.removeprefix(site.url): r.depth for r in results}
    assert depths["/a.html"] == 1
    assert depths["/sub/d"] == 2
    assert depths["/other/x"] == 3
    assert [r.depth for r in results] == sorted(r.depth for r in results)


async def test_max_pages(client: OutboundClient, site: Web) -> None:
    results = await _crawl(client, site.url + "/", depth=3, max_pages=3)
    assert _paths(results, site.url) == {"/", "/a.html", "/b"}
    assert sorted(site.seen) == ["/", "/a.html", "/b", "/robots.txt"]


async def test_same_site_only_unless_asked(client: OutboundClient, site: Web, other: Web) -> None:
    await _crawl(client, site.url + "/", depth=1)
    assert other.seen == []
    results = await _crawl(client, site.url + "/", depth=1, same_site=False)
    assert other.url + "/page" in {r.url for r in results if r.ok}
    assert other.seen == ["/robots.txt", "/page"]


async def test_robots_txt_is_obeyed(client: OutboundClient, site: Web) -> None:
    await _crawl(client, site.url + "/", depth=1)
    assert "/private/secret" not in site.seen
    assert site.seen.count("/robots.txt") == 1


async def test_robots_txt_can_be_ignored(client: OutboundClient, site: Web) -> None:
    await _crawl(client, site.url + "/", depth=1, respect_robots=False)
    assert "/private/secret" in site.seen
    assert "/robots.txt" not in site.seen


async def test_a_start_page_robots_txt_disallows(client: OutboundClient, site: Web) -> None:
    results = await _crawl(client, site.url + "/private/secret", depth=1)
    assert len(results) == 1 and results[0].error is not None
    assert "robots.txt" in results[0].error
    assert site.seen == ["/robots.txt"]


async def test_an_unreadable_robots_txt_allows_and_is_logged(
    client: OutboundClient, site: Web, caplog: pytest.LogCaptureFixture
) -> None:
    site.pages["/robots.txt"] = Reply("oops", status=503)
    with caplog.at_level(logging.WARNING, logger="homeport.knowledge.crawl"):
        results = await _crawl(client, site.url + "/private/secret")
    assert results[0].ok
    assert "robots.txt" in caplog.text


async def test_at_most_four_fetches_in_flight(client: OutboundClient) -> None:
    pages = {f"/p{i}": Reply("<p>slow</p>", wait=0.05) for i in range(10)}
    wide = Web({"/": _html(*pages), **pages})
    with wide.server:
        client.policy = client.policy.with_extra([f"127.0.0.1:{wide.server.port}"])
        results = await _crawl(client, wide.url + "/", depth=1)
    assert len(results) == 11
    assert 1 < wide.most_in_flight <= 4


async def test_delay_spaces_fetches_to_a_site(client: OutboundClient) -> None:
    slow = Web({"/": _html("/1", "/2"), "/1": _html(), "/2": _html()})
    with slow.server:
        client.policy = client.policy.with_extra([f"127.0.0.1:{slow.server.port}"])
        await _crawl(client, slow.url + "/", depth=1, delay=0.1, respect_robots=False)
    gaps = [b - a for a, b in zip(slow.started, slow.started[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.09


async def test_a_refused_start_url_raises(client: OutboundClient) -> None:
    with pytest.raises(OutboundBlocked):
        await _crawl(client, "file:///etc/passwd")
    with pytest.raises(OutboundBlocked):
        await _crawl(client, "http://169.254.169.254/")
    with pytest.raises(ValidationFailed):
        await _crawl(client, "http://example.com/", depth=-1)


def _page(url: str, html: str, content_type: str = "text/html") -> Fetched:
    return Fetched(url, url, 200, content_type, "utf-8", html.encode(), headers={})


def test_links_are_resolved_normalised_and_unique() -> None:
    html = (
        '<a href="b.html#x">1</a><a href="/c?q=1">2</a><a href="HTTP://Example.COM:80/d">3</a>'
        '<a href="mailto:a@b.c">4</a><a href="javascript:x()">5</a><a href="../b.html">6</a>'
        '<a href="https://example.com:443/e#f">7</a><a>no href</a><area href="/map">'
        '<a href="http://[bad">8</a>'
    )
    links = extract_links(_page("http://example.com/dir/index.html", html))
    assert links == [
        "http://example.com/dir/b.html",
        "http://example.com/c?q=1",
        "http://example.com/d",
        "http://example.com/b.html",
        "https://example.com/e",
        "http://example.com/map",
    ]


def test_base_href_is_honoured() -> None:
    html = '<base href="https://cdn.example.com/docs/"><a href="guide.html">g</a>'
    links = extract_links(_page("http://example.com/", html))
    assert links == ["https://cdn.example.com/docs/guide.html"]


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("HTTP://Example.com", "http://example.com/"),
        ("https://example.com:443/a#b", "https://example.com/a"),
        ("http://example.com?q=1#b", "http://example.com/?q=1"),
        ("http://example.com/a%20b?x=%2F", "http://example.com/a%20b?x=/"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("mailto:a@b.c", None),
        ("ftp://example.com/", None),
    ],
)
def test_normalise_url(url: str, normal: str | None) -> None:
    assert normalise_url(url) == normal
