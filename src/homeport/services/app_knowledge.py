"""An app's inline knowledge (a `source` in its spec): the base it names, created and kept
in step with the spec when the app is applied."""

from __future__ import annotations

import hashlib
from typing import Any

from homeport.apps.spec import AppSpec, KnowledgeSpec
from homeport.domain.knowledge import KnowledgeBase, Source
from homeport.domain.users import Principal
from homeport.errors import NotFound
from homeport.services.knowledge import KnowledgeInput, KnowledgeService, UrlInput


def inline_base_name(app: str, knowledge: str) -> str:
    """The knowledge base an app's inline knowledge entry is indexed into."""
    return f"{app}-{knowledge}"


class AppKnowledge:
    """Knowledge an app declares inline (text, web pages, files read by the CLI): a base owned
    by whoever applies the app, kept in step with the spec: when an entry's sources change,
    they are replaced (and indexed again)."""

    def __init__(self, knowledge: KnowledgeService):
        self.knowledge = knowledge

    async def sync(self, principal: Principal, app: str, spec: AppSpec) -> None:
        for assistant in spec.assistants:
            for entry in assistant.knowledge:
                if entry.source is not None and entry.name:
                    await self._entry(principal, inline_base_name(app, entry.name), entry)

    async def _entry(self, principal: Principal, name: str, entry: KnowledgeSpec) -> None:
        kb = await self._base(principal, name, entry)
        current = await self.knowledge.sources(principal, kb.id)
        wanted = _wanted_sources(entry)
        if sorted(_signature(s) for s in current) == sorted(_key(w) for w in wanted):
            return
        for source in current:
            await self.knowledge.remove_source(principal, kb.id, source.id)
        for item in wanted:
            if item["kind"] == "text":
                await self.knowledge.add_text(principal, kb.id, item["text"], item["title"])
            else:
                await self.knowledge.add_url(principal, kb.id, item["url_input"])

    async def _base(self, principal: Principal, name: str, entry: KnowledgeSpec) -> KnowledgeBase:
        try:
            kb = await self.knowledge.get(principal, name)
            if kb.owner_id == principal.user_id:
                return kb
        except NotFound:
            pass
        rag = entry.rag_settings
        schedule = entry.refresh_schedule if entry.refresh_enabled else None
        return await self.knowledge.create(
            principal,
            KnowledgeInput(
                name=name,
                description=entry.description or "",
                chunk_size=rag.chunk_size if rag else None,
                chunk_overlap=rag.chunk_overflow if rag else None,
                schedule=schedule,
            ),
        )


def _wanted_sources(entry: KnowledgeSpec) -> list[dict[str, Any]]:
    source = entry.source
    assert source is not None
    wanted: list[dict[str, Any]] = []
    if source.text:
        wanted.append({"kind": "text", "text": source.text, "title": entry.name})
    if source.web is not None:
        crawler = source.web.crawler
        crawling = crawler is not None and crawler.enabled
        for url in source.web.urls:
            data = UrlInput(
                url=str(url),
                depth=(crawler.max_depth or 1) if crawling and crawler else 0,
                max_pages=(crawler.max_pages or 50) if crawler else 50,
                respect_robots=not (crawler.ignore_robots_txt if crawler else False),
            )
            wanted.append({"kind": "url", "url_input": data})
    return wanted


def _key(item: dict[str, Any]) -> tuple[str, str]:
    if item["kind"] == "text":
        return ("text", hashlib.sha256(item["text"].encode()).hexdigest())
    data: UrlInput = item["url_input"]
    return ("url", f"{data.url}|{data.depth}|{data.max_pages}|{data.respect_robots}")


def _signature(source: Source) -> tuple[str, str]:
    if source.kind == "text":
        return ("text", hashlib.sha256((source.text or "").encode()).hexdigest())
    options = source.options
    return (
        source.kind,
        f"{source.uri}|{options.get('depth')}|{options.get('max_pages')}|"
        f"{options.get('respect_robots')}",
    )
