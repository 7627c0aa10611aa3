"""Crawling a web site breadth-first through the guarded outbound client.

`crawl` yields one `CrawlResult` per page: the fetched page, or why it failed. A failure
never stops the crawl. Links come from HTML pages only; robots.txt is obeyed for the bot's
user agent; at most four fetches are in flight, optionally spaced per site.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin
from urllib.robotparser import RobotFileParser

from yarl import URL

from homeport.errors import HomeportError, UpstreamError, ValidationFailed
from homeport.outbound import ROBOTS_AGENT, SCHEMES, Fetched, OutboundClient

__all__ = ["DEFAULT_ACCEPT", "CrawlResult", "crawl", "extract_links", "normalise_url"]

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
DEFAULT_ACCEPT = frozenset(
    {
        *HTML_TYPES,
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
MAX_IN_FLIGHT = 4
ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class CrawlResult:
    """One crawled URL at `depth` links from the start: a `page`, or an `error` message."""

    url: str
    depth: int
    page: Fetched | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.page is not None


async def crawl(
    client: OutboundClient,
    start_url: str,
    *,
    depth: int = 0,
    max_pages: int = 50,
    same_site: bool = True,
    respect_robots: bool = True,
    accept: Collection[str] | None = DEFAULT_ACCEPT,
    delay: float = 0.0,
) -> AsyncIterator[CrawlResult]:
    """Fetch `start_url`, then the pages it links to, `depth` links deep, breadth-first.

    A start URL that is not http(s) or names a refused address raises `OutboundBlocked`.

    `max_pages` caps the fetches (failures count); `same_site` keeps to the start page's
    scheme, host and port; `delay` spaces fetches to one site by that many seconds.
    """
    if depth < 0 or max_pages < 1 or delay < 0:
        raise ValidationFailed("crawl needs depth >= 0, max_pages >= 1 and delay >= 0")
    crawler = _Crawler(
        client,
        max_pages=max_pages,
        same_site=same_site,
        robots=_Robots(client) if respect_robots else None,
        accept=accept,
        delay=delay,
    )
    async for result in crawler.run(start_url, depth):
        yield result


class _Crawler:
    def __init__(
        self,
        client: OutboundClient,
        *,
        max_pages: int,
        same_site: bool,
        robots: _Robots | None,
        accept: Collection[str] | None,
        delay: float,
    ) -> None:
        self._client = client
        self._budget = max_pages
        self._same_site = same_site
        self._robots = robots
        self._accept = accept
        self._pacer = _Pacer(delay)
        self._seen: set[str] = set()
        self._yielded: set[str] = set()
        self._site: str | None = None

    async def run(self, start_url: str, depth: int) -> AsyncIterator[CrawlResult]:
        self._client.policy.check_url(start_url)
        start = normalise_url(start_url) or start_url
        if not await self._robots_allow(start):
            yield CrawlResult(start, 0, error=f"robots.txt does not allow {ROBOTS_AGENT} here")
            return
        level = [start]
        for current in range(depth + 1):
            pages: dict[str, Fetched] = {}
            async for result in self._fetch_all(level, current):
                if result.page is not None:
                    pages[result.url] = result.page
                yield result
            if current == depth:
                return
            level = await self._next_level(level, pages)

    async def _next_level(self, level: list[str], pages: dict[str, Fetched]) -> list[str]:
        """Unseen, allowed links of this level's HTML pages, in page order, within budget."""
        chosen: list[str] = []
        for link in _links_of(pages[url] for url in level if url in pages):
            if len(chosen) == self._budget:
                break
            if link in self._seen or not self._on_site(link):
                continue
            self._seen.add(link)
            if await self._robots_allow(link):
                chosen.append(link)
        return chosen

    async def _fetch_all(self, urls: list[str], depth: int) -> AsyncIterator[CrawlResult]:
        """Fetch `urls` with at most MAX_IN_FLIGHT at once; results as they finish."""
        queue = iter(urls)
        pending: set[asyncio.Task[CrawlResult | None]] = set()
        try:
            while True:
                for url in itertools.islice(queue, MAX_IN_FLIGHT - len(pending)):
                    pending.add(asyncio.create_task(self._fetch(url, depth)))
                if not pending:
                    return
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if (result := task.result()) is not None:
                        yield result
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _fetch(self, url: str, depth: int) -> CrawlResult | None:
        """One page; None when it turned out to be a page already crawled or off-site."""
        self._budget -= 1
        self._seen.add(url)
        await self._pacer.wait(_origin(url))
        try:
            page = await self._client.fetch(url, accept=self._accept)
        except HomeportError as exc:
            return CrawlResult(url, depth, error=exc.message)
        final = normalise_url(page.final_url) or page.final_url
        self._seen.update(normalise_url(u) or u for u in page.redirects)
        self._seen.add(final)
        if self._site is None:
            self._site = _origin(final)
        if final in self._yielded or not self._on_site(final):
            logger.debug("skipping %s: reached %s, crawled already or off-site", url, final)
            return None
        self._yielded.add(final)
        return CrawlResult(url, depth, page=page)

    def _on_site(self, url: str) -> bool:
        return not self._same_site or self._site is None or _origin(url) == self._site

    async def _robots_allow(self, url: str) -> bool:
        return self._robots is None or await self._robots.allows(url)


def _links_of(pages: Iterable[Fetched]) -> Iterable[str]:
    for page in pages:
        if page.content_type in HTML_TYPES:
            yield from extract_links(page)


class _Robots:
    """Each site's robots.txt, fetched once through the guarded client."""

    def __init__(self, client: OutboundClient) -> None:
        self._client = client
        self._sites: dict[str, RobotFileParser | None] = {}

    async def allows(self, url: str) -> bool:
        origin = _origin(url)
        if origin not in self._sites:
            self._sites[origin] = await self._load(origin)
        rules = self._sites[origin]
        return rules is None or rules.can_fetch(ROBOTS_AGENT, url)

    async def _load(self, origin: str) -> RobotFileParser | None:
        """The site's rules; None (everything allowed) when there are none or none to read."""
        try:
            fetched = await self._client.fetch(f"{origin}/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        except UpstreamError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None
            logger.warning("could not read %s/robots.txt (%s); crawling it", origin, exc.message)
            return None
        except HomeportError as exc:
            logger.warning("could not read %s/robots.txt (%s); crawling it", origin, exc.message)
            return None
        rules = RobotFileParser(f"{origin}/robots.txt")
        rules.parse(fetched.text().splitlines())
        return rules


class _Pacer:
    """Spaces the starts of fetches to one site `delay` seconds apart."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._next: dict[str, float] = {}

    async def wait(self, site: str) -> None:
        if self._delay <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, self._next.get(site, now))
        self._next[site] = start + self._delay
        await asyncio.sleep(start - now)


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = next((value for name, value in attrs if name == "href" and value), None)
        if href is None:
            return
        if tag == "base" and self.base is None:
            self.base = href.strip()
        elif tag in ("a", "area"):
            self.hrefs.append(href.strip())


def extract_links(page: Fetched) -> list[str]:
    """The page's http(s) links, absolute, normalised, without fragments, each once."""
    parser = _LinkParser()
    parser.feed(page.text())
    parser.close()
    base = (_join(page.final_url, parser.base) if parser.base else "") or page.final_url
    links = (normalise_url(_join(base, href)) for href in parser.hrefs)
    return list(dict.fromkeys(link for link in links if link is not None))


def _join(base: str, href: str) -> str:
    try:
        return urljoin(base, href)
    except ValueError:
        return ""


def normalise_url(url: str) -> str | None:
    """Lower-case scheme and host, no default port, no fragment; None if not http(s)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return None
    if parsed.scheme not in SCHEMES or not parsed.raw_host:
        return None
    return str(parsed.with_path(parsed.raw_path or "/", encoded=True, keep_query=True))


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, the unit of 'same site', robots.txt and pacing."""
    return str(URL(url).origin())
