"""Chunking Markdown: sections, sizes, overlap, tables, code, pages and offsets."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from homeport.domain.knowledge import ChunkDraft, Converted, PageSpan
from homeport.knowledge.chunking import chunk_markdown, estimate_tokens


def sentences(count: int, topic: str = "setup") -> str:
    return " ".join(
        f"Step {n} of the {topic} takes a little while to finish." for n in range(count)
    )


def table(rows: int) -> str:
    lines = ["| Name | Value |", "| --- | --- |"]
    return "\n".join(lines + [f"| row {n} | value {n} |" for n in range(rows)])


def code(lines: int) -> str:
    return "```python\n" + "\n".join(f"print({n})  # line {n}" for n in range(lines)) + "\n```"


GUIDE = f"""Homeport runs on your own servers.

# Install

{sentences(3)}

## On Linux

{sentences(40, "linux install")}

- Download the package.
- Run the installer.

## On macOS

{sentences(2, "mac install")}

# Reference
## Settings

{table(60)}

## Examples

{code(8)}

Trailing words after the code.
"""


def chunks_of(markdown: str, **options: int) -> list[ChunkDraft]:
    size, overlap = options.get("size", 80), options.get("overlap", 16)
    return chunk_markdown(Converted(markdown), size=size, overlap=overlap)


def body(chunk: ChunkDraft, markdown: str) -> str:
    """The chunk's own slice of the Markdown."""
    return markdown[chunk.start : chunk.end]


def test_sections_carry_their_heading_path() -> None:
    chunks = chunks_of(GUIDE)
    sections = list(dict.fromkeys(chunk.section for chunk in chunks))
    assert sections == [
        None,
        "Install",
        "Install > On Linux",
        "Install > On macOS",
        "Reference > Settings",
        "Reference > Examples",
    ]
    assert chunks[1].text.startswith("# Install\n\nStep 0")
    linux = [chunk for chunk in chunks if chunk.section == "Install > On Linux"]
    assert linux[0].text.startswith("## On Linux")
    assert linux[-1].text.endswith("- Download the package.\n- Run the installer.")


def test_setext_headings_and_heading_markup() -> None:
    markdown = "Guide\n=====\n\nIntro.\n\nThe **`serve`** command\n---\n\nRuns it.\n"
    chunks = chunks_of(markdown)
    assert [chunk.section for chunk in chunks] == ["Guide", "Guide > The serve command"]


def test_front_matter_is_not_a_heading() -> None:
    markdown = "---\ntitle: Notes\n---\n\nSome text.\n"
    assert [(chunk.section, chunk.text) for chunk in chunks_of(markdown)] == [
        (None, markdown.strip())
    ]


@pytest.mark.parametrize("size", [20, 50, 80, 200])
def test_no_chunk_is_bigger_than_size(size: int) -> None:
    chunks = chunks_of(GUIDE, size=size, overlap=size // 4)
    assert all(estimate_tokens(chunk.text) <= size for chunk in chunks)
    assert all(chunk.text.strip() for chunk in chunks)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))


def test_a_custom_token_counter_is_respected() -> None:
    def words(text: str) -> int:
        return len(text.split())

    doc = Converted(GUIDE)
    chunks = chunk_markdown(doc, size=30, overlap=5, count_tokens=words)
    assert all(words(chunk.text) <= 30 for chunk in chunks)
    assert max(words(chunk.text) for chunk in chunks) >= 25
    assert max(estimate_tokens(chunk.text) for chunk in chunks) > 30


def test_chunks_cover_all_content() -> None:
    covered = bytearray(len(GUIDE))
    for chunk in chunks_of(GUIDE, size=40, overlap=8):
        covered[chunk.start : chunk.end] = b"x" * (chunk.end - chunk.start)
    left_out = "".join(char for char, mark in zip(GUIDE, covered, strict=True) if not mark)
    assert left_out.split() == ["#", "Reference"]


def test_next_chunk_starts_with_whole_sentences_of_the_previous_one() -> None:
    linux = [chunk for chunk in chunks_of(GUIDE) if chunk.section == "Install > On Linux"]
    assert len(linux) >= 3
    for previous, chunk in itertools.pairwise(linux):
        shared = GUIDE[chunk.start : previous.end]
        assert chunk.start < previous.end and previous.text.endswith(shared)
        assert re.fullmatch(
            r"(Step \d+ of the linux install takes a little while to finish\. ?)+", shared
        )
        assert estimate_tokens(shared) <= 16


def test_overlap_falls_back_to_words_when_a_sentence_is_too_long() -> None:
    markdown = " ".join(f"word{n}" for n in range(400))
    chunks = chunks_of(markdown, size=50, overlap=10)
    for previous, chunk in itertools.pairwise(chunks):
        shared = markdown[chunk.start : previous.end]
        assert shared and estimate_tokens(shared) <= 10 and re.fullmatch(r"[\w ]+", shared)
        assert markdown[chunk.start - 1] == " "


def test_no_overlap_across_sections_or_without_asking() -> None:
    chunks = chunks_of(GUIDE)
    for previous, chunk in itertools.pairwise(chunks):
        if previous.section != chunk.section:
            assert chunk.start >= previous.end
    plain = chunks_of(GUIDE, overlap=0)
    assert all(b.start >= a.end for a, b in itertools.pairwise(plain))


def test_big_tables_are_split_by_rows_with_the_header_repeated() -> None:
    pieces = [chunk for chunk in chunks_of(GUIDE) if chunk.section == "Reference > Settings"]
    assert len(pieces) > 2
    assert pieces[0].text.startswith("## Settings\n\n| Name")
    rows: list[str] = []
    for chunk in pieces:
        lines = chunk.text.removeprefix("## Settings\n\n").split("\n")
        assert lines[:2] == ["| Name | Value |", "| --- | --- |"]
        assert all(re.fullmatch(r"\| row \d+ \| value \d+ \|", line) for line in lines[2:])
        rows += lines[2:]
    assert rows == [f"| row {n} | value {n} |" for n in range(60)]


def test_tables_and_code_that_fit_stay_whole() -> None:
    markdown = f"# Data\n\n{table(5)}\n\n{code(5)}\n"
    texts = [chunk.text for chunk in chunks_of(markdown, size=200)]
    assert texts == [f"# Data\n\n{table(5)}\n\n{code(5)}"]
    small = [chunk.text for chunk in chunks_of(markdown, size=60, overlap=0)]
    assert table(5) in small[0] and small[1] == code(5)


def test_big_code_blocks_are_split_inside_their_fences() -> None:
    markdown = f"# Code\n\n{code(80)}"
    chunks = chunks_of(markdown, size=60)
    assert len(chunks) > 2 and chunks[0].text.startswith("# Code\n\n```python\n")
    lines: list[str] = []
    for chunk in chunks:
        text = chunk.text.removeprefix("# Code\n\n")
        assert text.startswith("```python\n") and text.endswith("\n```")
        assert estimate_tokens(chunk.text) <= 60
        lines += text.split("\n")[1:-1]
    assert lines == code(80).split("\n")[1:-1]


def test_code_is_not_mistaken_for_headings_or_tables() -> None:
    markdown = "# Shell\n\n```sh\n# a comment, not a heading\n| not a table |\n```\n"
    (chunk,) = chunks_of(markdown)
    assert chunk.section == "Shell" and chunk.text == markdown.strip()


def test_long_sentences_and_words_are_cut_to_size() -> None:
    markdown = "no punctuation here " * 200 + "\n\n" + "x" * 1000
    chunks = chunks_of(markdown, size=30, overlap=0)
    assert all(estimate_tokens(chunk.text) <= 30 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks if chunk.text.startswith("x")) == "x" * 1000


def test_pages_are_the_pages_chunks_start_on() -> None:
    pages = [sentences(12, f"page {n}") for n in (1, 2, 3)]
    markdown = "\n\n".join(pages)
    spans, offset = [], 0
    for number, text in enumerate(pages, start=1):
        spans.append(PageSpan(page=number, start=offset, end=offset + len(text)))
        offset += len(text) + 2
    doc = Converted(markdown, pages=tuple(spans))
    chunks = chunk_markdown(doc, size=60, overlap=0)
    assert {chunk.page for chunk in chunks} == {1, 2, 3}
    for chunk in chunks:
        start_page = re.match(r"Step \d+ of the page (\d)", chunk.text)
        assert start_page and int(start_page.group(1)) == chunk.page
    for chunk in chunk_markdown(doc, size=60, overlap=20):
        assert spans[(chunk.page or 0) - 1].start <= chunk.start < spans[(chunk.page or 0) - 1].end
    assert all(chunk.page is None for chunk in chunks_of(markdown))


def test_offsets_slice_back_to_the_text() -> None:
    for chunk in chunks_of(GUIDE, size=50, overlap=10):
        own = body(chunk, GUIDE)
        assert own.strip() and own in chunk.text
        if chunk.section != "Reference > Settings" or chunk.text.startswith("| Name"):
            assert chunk.text.endswith(own)


def test_chunking_is_deterministic() -> None:
    assert chunks_of(GUIDE) == chunks_of(GUIDE)


def test_empty_and_heading_only_documents_have_no_chunks() -> None:
    assert chunks_of("") == []
    assert chunks_of("\n  \n---\n") == []
    assert chunks_of("# Only\n\n## Headings\n") == []


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_markdown(Converted("text"), size=10, overlap=10)
    with pytest.raises(ValueError, match="size"):
        chunk_markdown(Converted("text"), size=0, overlap=0)


def test_estimate_counts_four_bytes_a_token() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1 and estimate_tokens("abcde") == 2
    assert estimate_tokens("東京") == 2


def test_a_megabyte_of_markdown_is_chunked_whole() -> None:
    rng = random.Random(7)
    words = ("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "servers")
    parts: list[str] = []
    while sum(map(len, parts)) < 1_000_000:
        prose = " ".join(
            " ".join(rng.choices(words, k=12)) + "." for _ in range(rng.randint(1, 30))
        )
        parts.append(
            f"## Part {len(parts)}\n\n{prose}\n\n- item\n- item\n\n{table(20)}\n\n{code(20)}"
        )
    markdown = "\n\n".join(parts)
    chunks = chunks_of(markdown, size=256, overlap=32)
    assert len(chunks) > 500


def test_a_chunk_never_spans_two_pages() -> None:
    first, second = "First page words. " * 3, "Second page words. " * 3
    markdown = first + "\n\n" + second
    pages = (
        PageSpan(1, 0, len(first)),
        PageSpan(2, len(first) + 2, len(markdown)),
    )
    chunks = chunk_markdown(Converted(markdown, pages=pages), size=400, overlap=40)
    assert [c.page for c in chunks] == [1, 2]
    assert "Second" not in chunks[0].text and "First" not in chunks[1].text
