"""`homeport knowledge ...`: knowledge bases (RAG). Create one, add files, URLs and text to
it, follow their ingestion, query it, refresh it and delete it.

KB takes a knowledge base's id or name. Following ingestion (`add --wait`, `refresh --wait`,
`status --watch`) polls the documents until each is ready or failed: a progress bar per
document on a terminal, a line per change of state otherwise; any failure exits with 1.
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from homeport.cli.client import Client
from homeport.cli.output import JsonFlag, handle_errors, print_json, table
from homeport.errors import ValidationFailed

knowledge_app = typer.Typer(
    help="Knowledge bases: documents, web pages and text to search and cite (RAG).",
    no_args_is_help=True,
)

Document = dict[str, Any]

POLL_SECONDS = 0.5
SETTLED = frozenset({"ready", "failed"})
SCHEMES = ("http://", "https://")
BATCH_BYTES = 32 * 1024 * 1024
SNIPPET_CHARS = 400
WRAP_COLUMNS = 100
INDENT = "   "
LABEL_CHARS = 48
INTERRUPTED = 130
DOCUMENT_COLUMNS = ["document", "source", "version", "state", "progress", "chunks", "error"]
HEADINGS = re.compile(r"\A(?:[ \t]*#{1,6}[ \t].*(?:\n|\Z)\s*)+")


class Mode(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    keyword = "keyword"


def register(app: typer.Typer) -> None:
    """Add these commands to the `homeport` command."""
    app.add_typer(knowledge_app, name="knowledge")


# -- talking to the server ------------------------------------------------------------------


def _path(kb: str, *rest: str) -> str:
    return "/".join(["/api/v1/knowledge", quote(kb, safe=""), *rest])


# -- how things look ------------------------------------------------------------------------


def _print_fields(fields: dict[str, Any]) -> None:
    width = max(len(key) for key in fields) + 2
    for key, value in fields.items():
        typer.echo(f"{key + ':':<{width}}{'-' if value is None else value}")


def _when(value: str | None) -> str | None:
    """A time the server sent, in local time to the second."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _version(kb: dict[str, Any]) -> str:
    building = kb["building_version"]
    return f"{kb['version']}" + (f" (building {building})" if building else "")


def trim(text: str, limit: int = SNIPPET_CHARS) -> str:
    """`text` on one line without its leading headings (the hit's section names them), cut
    at a word boundary to at most `limit` characters (plus `…`)."""
    flat = " ".join((HEADINGS.sub("", text) or text).split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit + 1].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut.rstrip(" ,;:.-") + "…"


def location(hit: dict[str, Any]) -> str:
    """Where in its source a hit is: its section and/or its page."""
    page = f"page {hit['page']}" if hit.get("page") is not None else None
    return ", ".join(part for part in (hit.get("section"), page) if part)


def format_hit(rank: int, hit: dict[str, Any], *, width: int = WRAP_COLUMNS) -> str:
    """A hit's heading (rank, score, source, location) and its snippet, wrapped."""
    where = location(hit)
    heading = f"{rank}. {hit['score']:.4f}  {hit['source']}" + (f"  ({where})" if where else "")
    snippet = textwrap.fill(
        trim(hit["snippet"]), width=width, initial_indent=INDENT, subsequent_indent=INDENT
    )
    return f"{heading}\n{snippet}"


def _state(document: Document) -> str:
    """A document's state in words: `embedding 40%`, `ready, 12 chunks`, `failed: why`."""
    described = {
        "ready": f"ready, {document['chunks']} chunks",
        "embedding": f"embedding {document['progress']:.0%}",
        "failed": f"failed: {document['error']}",
    }
    return described.get(document["state"], str(document["state"]))


# -- following ingestion --------------------------------------------------------------------


class Quiet:
    """How documents are shown while they are followed: not at all (`--json`)."""

    def __enter__(self) -> Quiet:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def show(self, documents: Sequence[Document]) -> None:
        return None


class Lines(Quiet):
    """Not a terminal: a line each time a document changes state."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def show(self, documents: Sequence[Document]) -> None:
        for document in documents:
            if self._seen.get(document["id"]) != document["state"]:
                self._seen[document["id"]] = document["state"]
                typer.echo(f"{document['uri']}: {_state(document)}")


class Bars(Quiet):
    """A terminal: a live progress bar per document."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[state]}"),
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Bars:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def show(self, documents: Sequence[Document]) -> None:
        for document in documents:
            task = self._tasks.get(document["id"])
            if task is None:
                task = self._progress.add_task(label(document["uri"]), total=1.0, state="")
                self._tasks[document["id"]] = task
            self._progress.update(task, completed=_done(document), state=_styled(document))


def label(uri: str, width: int = LABEL_CHARS) -> str:
    """A document's name or URL in at most `width` characters, keeping its end."""
    return uri if len(uri) <= width else "…" + uri[-(width - 1) :]


def _done(document: Document) -> float:
    """How far along a document is, for its bar (a failed one's bar is empty)."""
    if document["state"] == "ready":
        return 1.0
    return float(document["progress"]) if document["state"] == "embedding" else 0.0


def _styled(document: Document) -> str:
    state = str(document["state"])
    return {"ready": "[green]ready[/]", "failed": "[red]failed[/]"}.get(state, state)


def _display(*, quiet: bool = False) -> Quiet:
    if quiet:
        return Quiet()
    return Bars() if sys.stdout.isatty() else Lines()


Pick = Callable[[dict[str, Any]], list[Document]]
Over = Callable[[dict[str, Any], list[Document]], bool]


def follow(
    client: Client, kb: str, *, pick: Pick, over: Over, quiet: bool = False
) -> dict[str, Any]:
    """Poll `kb`'s documents, showing those `pick` chooses, until `over` says so; the last
    answer."""
    try:
        with _display(quiet=quiet) as display:
            while True:
                answer = client.get(_path(kb, "documents"))
                picked = pick(answer)
                display.show(picked)
                if over(answer, picked):
                    return dict(answer)
                time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        typer.echo(
            f"stopped following; ingestion goes on (homeport knowledge status {kb} --watch)",
            err=True,
        )
        raise typer.Exit(INTERRUPTED) from None


def settled(documents: Sequence[Document]) -> bool:
    return all(d["state"] in SETTLED for d in documents)


def newest(answer: dict[str, Any]) -> list[Document]:
    """The documents of the version being built, else of the live one."""
    version = answer["building_version"] or answer["version"]
    return [d for d in answer["data"] if d["version"] == version]


def report(documents: Sequence[Document], *, quiet: bool = False) -> None:
    """Sum up what ingestion came to; exit with 1, naming each failure, if any failed."""
    failed = [d for d in documents if d["state"] == "failed"]
    ready = [d for d in documents if d["state"] == "ready"]
    if not quiet:
        chunks = sum(d["chunks"] for d in ready)
        typer.echo(f"{len(ready)} document(s) ready, {chunks} chunks")
    if failed:
        typer.echo(f"error: {len(failed)} of {len(documents)} document(s) failed:", err=True)
        for document in failed:
            typer.echo(f"  {document['uri']}: {document['error']}", err=True)
        raise typer.Exit(1)


# -- knowledge bases ------------------------------------------------------------------------


@knowledge_app.command("create")
@handle_errors
def knowledge_create(
    name: str,
    description: Annotated[str, typer.Option(help="What it holds")] = "",
    embedding_model: Annotated[
        str | None, typer.Option(help="An embedding model id (default: the server's)")
    ] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Chunk size, in tokens")] = None,
    chunk_overlap: Annotated[int | None, typer.Option(help="Chunk overlap, in tokens")] = None,
    schedule: Annotated[
        str | None, typer.Option(help="Refresh on this cron schedule, e.g. '0 3 * * *'")
    ] = None,
) -> None:
    """Create a knowledge base."""
    body = {
        "name": name,
        "description": description,
        "embedding_model": embedding_model,
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
        "schedule": schedule,
    }
    kb = Client.from_settings().post("/api/v1/knowledge", body)
    typer.echo(
        f"knowledge/{kb['name']} created ({kb['embedding_model']}, chunks of "
        f"{kb['chunk_size']} tokens overlapping by {kb['chunk_overlap']})"
    )


@knowledge_app.command("list")
@handle_errors
def knowledge_list(as_json: JsonFlag = False) -> None:
    """The knowledge bases you own or that are shared with you."""
    found = Client.from_settings().get("/api/v1/knowledge")
    if as_json:
        print_json(found)
        return
    table(
        [
            (kb["name"], kb["id"], kb["embedding_model"], _version(kb), kb["schedule"])
            for kb in found
        ],
        ["name", "id", "embedding model", "version", "schedule"],
    )


@knowledge_app.command("show")
@handle_errors
def knowledge_show(kb: str, as_json: JsonFlag = False) -> None:
    """A knowledge base's settings and its sources."""
    client = Client.from_settings()
    found = client.get(_path(kb))
    sources = client.get(_path(found["id"], "sources"))
    if as_json:
        print_json({**found, "sources": sources})
        return
    _print_fields(
        {
            "name": found["name"],
            "id": found["id"],
            "description": found["description"] or None,
            "embedding model": found["embedding_model"],
            "chunking": f"{found['chunk_size']} tokens, overlap {found['chunk_overlap']}",
            "version": _version(found),
            "schedule": found["schedule"],
            "next refresh": _when(found["next_refresh_at"]),
            "created": _when(found["created_at"]),
        }
    )
    typer.echo("sources:" + ("" if sources else " none"))
    if sources:
        table(
            [(s["id"], s["kind"], s["uri"], _when(s["created_at"])) for s in sources],
            ["id", "kind", "source", "added"],
        )


@knowledge_app.command("delete")
@handle_errors
def knowledge_delete(
    kb: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a knowledge base, its sources and everything indexed from them."""
    if not yes:
        typer.confirm(f"Delete knowledge base {kb} and everything indexed in it?", abort=True)
    Client.from_settings().delete(_path(kb))
    typer.echo(f"knowledge/{kb} deleted")


# -- sources --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Additions:
    """What `add` sends: files to upload, URLs to fetch, text."""

    files: list[Path]
    urls: list[str]
    text: str | None = None
    title: str | None = None


def sort_out(items: Sequence[str], *, text: str | None, title: str | None) -> Additions:
    """Files (paths that exist) and URLs; anything else is refused before a request is made."""
    if title is not None and text is None:
        raise ValidationFailed("--title goes with --text")
    if not items and text is None:
        raise ValidationFailed("give files, URLs or --text")
    files: list[Path] = []
    urls: list[str] = []
    for item in items:
        path = Path(item)
        if path.exists():
            files.append(_checked_file(path))
        elif item.lower().startswith(SCHEMES):
            urls.append(item)
        else:
            raise ValidationFailed(f"{item}: no such file, and not an http(s) URL")
    if text == "-":
        text = sys.stdin.read()
    if text is not None and not text.strip():
        raise ValidationFailed("the text is empty")
    return Additions(files, urls, text, title)


def _checked_file(path: Path) -> Path:
    if path.is_dir():
        raise ValidationFailed(f"{path} is a directory: name its files (e.g. {path}/*.md)")
    if path.stat().st_size == 0:
        raise ValidationFailed(f"{path} is empty")
    return path


def batches(files: Sequence[Path], *, limit: int = BATCH_BYTES) -> Iterator[list[Path]]:
    """Files in groups of at most `limit` bytes, one request each (a bigger file goes alone)."""
    batch: list[Path] = []
    size = 0
    for file in files:
        length = file.stat().st_size
        if batch and size + length > limit:
            yield batch
            batch, size = [], 0
        batch.append(file)
        size += length
    if batch:
        yield batch


def _send(client: Client, kb: str, additions: Additions, crawl: dict[str, Any]) -> list[Any]:
    sources: list[Any] = []
    for batch in batches(additions.files):
        sources.extend(client.upload(_path(kb, "files"), batch))
    for url in additions.urls:
        sources.append(client.post(_path(kb, "sources"), {"url": url, **crawl}))
    if additions.text is not None:
        body = {"text": additions.text, "title": additions.title}
        sources.append(client.post(_path(kb, "sources"), body))
    return sources


@knowledge_app.command("add")
@handle_errors
def knowledge_add(
    kb: str,
    items: Annotated[
        list[str] | None, typer.Argument(metavar="FILE_OR_URL", help="Files and http(s) URLs")
    ] = None,
    depth: Annotated[int, typer.Option(help="URLs: links to follow from each page")] = 0,
    max_pages: Annotated[int, typer.Option(help="URLs: pages to fetch, at most")] = 50,
    no_robots: Annotated[bool, typer.Option("--no-robots", help="URLs: ignore robots.txt")] = False,
    all_sites: Annotated[
        bool, typer.Option("--all-sites", help="URLs: follow links to other sites too")
    ] = False,
    text: Annotated[str | None, typer.Option(help="Add this text (- reads stdin)")] = None,
    title: Annotated[str | None, typer.Option(help="The text's title")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow ingestion until it is over")
    ] = True,
) -> None:
    """Add files, web pages (crawled with --depth) or text, indexed in the background."""
    additions = sort_out(items or [], text=text, title=title)
    crawl = {
        "depth": depth,
        "max_pages": max_pages,
        "same_site": not all_sites,
        "respect_robots": not no_robots,
    }
    client = Client.from_settings()
    client.get(_path(kb))  # a base that is not there fails before anything is uploaded
    sources = _send(client, kb, additions, crawl)
    for source in sources:
        typer.echo(f"added {source['kind']} {source['uri']} (source {source['id']})")
    if wait:
        _follow_sources(client, kb, {s["id"] for s in sources})


def _follow_sources(client: Client, kb: str, ids: set[str]) -> None:
    def pick(answer: dict[str, Any]) -> list[Document]:
        live = answer["version"]
        return [d for d in answer["data"] if d["source_id"] in ids and d["version"] == live]

    def over(answer: dict[str, Any], picked: list[Document]) -> bool:
        """No source is left to ingest (a crawl adds pages as it goes) and all settled."""
        return not answer["pending"] and {d["source_id"] for d in picked} >= ids and settled(picked)

    report(pick(follow(client, kb, pick=pick, over=over)))


@knowledge_app.command("remove-source")
@handle_errors
def knowledge_remove_source(kb: str, source_id: str) -> None:
    """Remove a source and everything indexed from it (ids: `homeport knowledge show KB`)."""
    Client.from_settings().delete(_path(kb, "sources", source_id))
    typer.echo(f"source {source_id} removed from knowledge/{kb}")


# -- ingestion, refresh and queries ---------------------------------------------------------


@knowledge_app.command("status")
@handle_errors
def knowledge_status(
    kb: str,
    watch: Annotated[
        bool, typer.Option("--watch", help="Follow ingestion until every document is done")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Each document: its state, progress, chunks, and why it failed."""
    client = Client.from_settings()
    if not watch:
        answer = client.get(_path(kb, "documents"))
        (print_json if as_json else _print_documents)(answer)
        return
    answer = follow(client, kb, pick=newest, over=built, quiet=as_json)
    if as_json:
        print_json(answer)
    report(newest(answer), quiet=as_json)


def built(answer: dict[str, Any], picked: list[Document]) -> bool:
    """Nothing is left to ingest, no version is being built, every document has settled."""
    return not answer["pending"] and not answer["building_version"] and settled(picked)


def _print_documents(answer: dict[str, Any]) -> None:
    typer.echo(f"version {_version(answer)}")
    table([_document_row(d) for d in answer["data"]], DOCUMENT_COLUMNS)


def _document_row(d: Document) -> tuple[Any, ...]:
    progress = f"{_done(d):.0%}"
    return d["uri"], d["source_id"], d["version"], d["state"], progress, d["chunks"], d["error"]


@knowledge_app.command("refresh")
@handle_errors
def knowledge_refresh(
    kb: str,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the new version until it is live")
    ] = False,
) -> None:
    """Index every source again into a new version (queries read the old one meanwhile)."""
    client = Client.from_settings()
    refreshed = client.post(_path(kb, "refresh"), {})
    target = refreshed["building_version"] or refreshed["version"]
    typer.echo(f"knowledge/{refreshed['name']} refreshing into version {target}")
    if not wait:
        return

    def over(answer: dict[str, Any], _: list[Document]) -> bool:
        return not answer["building_version"] and answer["version"] >= target

    report(newest(follow(client, kb, pick=newest, over=over)))


@knowledge_app.command("query")
@handle_errors
def knowledge_query(
    kb: str,
    question: str,
    top_k: Annotated[int, typer.Option(help="Passages to return")] = 5,
    threshold: Annotated[
        float | None, typer.Option(help="Minimum similarity of a dense match (-1 to 1)")
    ] = None,
    mode: Annotated[Mode, typer.Option(help="How to search")] = Mode.hybrid,
    as_json: JsonFlag = False,
) -> None:
    """The passages that best answer a question, with their sources."""
    body = {"query": question, "top_k": top_k, "threshold": threshold, "mode": mode.value}
    found = Client.from_settings().post(_path(kb, "query"), body)
    if as_json:
        print_json(found)
        return
    if not found["data"]:
        typer.echo("no passages found", err=True)
        return
    width = min(shutil.get_terminal_size().columns, WRAP_COLUMNS)
    typer.echo("\n\n".join(format_hit(i, h, width=width) for i, h in enumerate(found["data"], 1)))
