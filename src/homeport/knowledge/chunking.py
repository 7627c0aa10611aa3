"""Cutting a converted document's Markdown into chunks that fit an embedding model.

The Markdown is read as blocks (headings, paragraphs, list items, fenced code, tables). Each
heading opens a section whose path (`Install > On Linux`) every chunk in it carries. Within a
section, blocks are packed into chunks of at most `size` tokens; a block too big for one chunk
is split: tables by rows (each piece repeats the header row), code by lines (each piece keeps
its fences), prose at sentence boundaries, then lines, then words. The next chunk of the same
section starts with up to `overlap` tokens from the end of the previous one, in whole sentences
where possible. A chunk's text is its Markdown slice `markdown[start:end]`, plus the repeated
table header or code fence of a split block.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from homeport.domain.knowledge import ChunkDraft, Converted, PageSpan

TokenCounter = Callable[[str], int]
Span = tuple[int, int]
Kind = Literal["heading", "text", "table", "code"]

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})([^`]*)$")
_CLOSING_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*$")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE_LINE = re.compile(r" {0,3}\|")
_TABLE_RULE = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S")
_STOP = r"[.!?\u3002\uff01\uff1f\u2026][\"'\u201d\u2019)\]]*\s+"  # ends a sentence (Latin or CJK)
_SENTENCE_END = re.compile(_STOP)
_SENTENCE_START = re.compile(_STOP + r"|\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t])")
_WORD = re.compile(r"\S+")
_WORD_START = re.compile(r"\s+(?=\S)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"\*\*|`")


def estimate_tokens(text: str) -> int:
    """A cautious token count: one token per four bytes of UTF-8 (four characters of English)."""
    return -(-len(text.encode("utf-8")) // 4)


def chunk_markdown(
    doc: Converted,
    *,
    size: int,
    overlap: int,
    count_tokens: TokenCounter | None = None,
) -> list[ChunkDraft]:
    """Cut `doc` into chunks of at most `size` tokens, `overlap` tokens repeated between them."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"chunk size must be >= 1 and 0 <= overlap < size (got {size}, {overlap})")
    count = count_tokens or estimate_tokens
    markdown = doc.markdown
    splitter = _Splitter(markdown, size, count, overlap=overlap)
    pieces: list[_Piece] = []
    heading: int | None = None
    for block in _sections(markdown):
        pieces += splitter.pieces(block, after=heading)
        heading = block.start if block.kind == "heading" else None
    starts = [page.start for page in doc.pages]
    page_of = functools.partial(_page_at, doc.pages, starts)
    chunks = _Packer(markdown, size, overlap, count, page_of).pack(pieces)
    return [
        ChunkDraft(
            text=chunk.prefix + markdown[chunk.start : chunk.end] + chunk.suffix,
            ordinal=ordinal,
            section=chunk.section,
            page=_page_at(doc.pages, starts, chunk.start),
            start=chunk.start,
            end=chunk.end,
        )
        for ordinal, chunk in enumerate(chunks)
    ]


@dataclass(frozen=True, slots=True)
class _Block:
    """A block of the Markdown: `markdown[start:end]`, with its heading level for headings."""

    kind: Kind
    start: int
    end: int
    level: int = 0
    title: str = ""
    section: str | None = None
    body_start: int | None = None  # where a table's rows begin, after its header row and rule


@dataclass(frozen=True, slots=True)
class _Piece:
    """A part of a block that is never split further: `prefix + markdown[start:end] + suffix`."""

    kind: Kind
    start: int
    end: int
    section: str | None
    prefix: str = ""
    suffix: str = ""


class _Lines:
    """The Markdown's lines and where each starts."""

    def __init__(self, markdown: str) -> None:
        self.markdown = markdown
        self.text = markdown.split("\n")
        self.starts = list(itertools.accumulate((len(line) + 1 for line in self.text), initial=0))

    def __len__(self) -> int:
        return len(self.text)

    def span(self, first: int, last: int, *, indent: bool = False) -> Span:
        """Lines `first` to `last`, whitespace around them left out (indentation kept if asked)."""
        start, end = self.starts[first], self.starts[last] + len(self.text[last])
        trimmed_start, trimmed_end = _trim(self.markdown, start, end)
        return (start if indent else trimmed_start), trimmed_end

    def is_blank(self, index: int) -> bool:
        return not self.text[index].strip()


_Parsed = Generator[_Block, None, int]


def _sections(markdown: str) -> Iterator[_Block]:
    """The blocks of `markdown`, each with the heading path of the section it lies in."""
    path: list[tuple[int, str]] = []
    for block in _blocks(_Lines(markdown)):
        if block.kind == "heading":
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, block.title))
        section = " > ".join(title for _, title in path if title) or None
        yield _Block(
            block.kind, block.start, block.end, block.level, block.title, section, block.body_start
        )


def _blocks(lines: _Lines) -> Iterator[_Block]:
    """Headings, fenced code, tables, paragraphs and list items, in order."""
    index = yield from _front_matter(lines)
    while index < len(lines):
        line = lines.text[index]
        if lines.is_blank(index) or _RULE.match(line):
            index += 1
        elif fence := _FENCE.match(line):
            index = yield from _code(lines, index, fence.group(1))
        elif heading := _ATX.match(line):
            yield _heading(lines, index, index, len(heading.group(1)), heading.group(2) or "")
            index += 1
        elif _TABLE_LINE.match(line):
            index = yield from _table(lines, index)
        elif _is_setext(lines, index):
            level = 1 if lines.text[index + 1].strip().startswith("=") else 2
            yield _heading(lines, index, index + 1, level, line)
            index += 2
        else:
            index = yield from _paragraph(lines, index)


def _front_matter(lines: _Lines) -> _Parsed:
    """A YAML front matter block (`---` ... `---`) at the very top, kept as text."""
    if len(lines) < 3 or lines.text[0].rstrip() != "---":
        return 0
    for index in range(1, len(lines)):
        if lines.text[index].rstrip() in ("---", "..."):
            if index > 1:
                yield _Block("text", *lines.span(0, index))
            return index + 1
    return 0


def _is_setext(lines: _Lines, index: int) -> bool:
    return (
        index + 1 < len(lines)
        and _SETEXT.match(lines.text[index + 1]) is not None
        and _LIST_ITEM.match(lines.text[index]) is None
    )


def _heading(lines: _Lines, first: int, last: int, level: int, title: str) -> _Block:
    return _Block("heading", *lines.span(first, last), level=level, title=_plain(title))


def _plain(title: str) -> str:
    """A heading's text without links, emphasis and code marks."""
    return _EMPHASIS.sub("", _LINK.sub(r"\1", title)).strip()


def _code(lines: _Lines, first: int, fence: str) -> _Parsed:
    index = first + 1
    while index < len(lines):
        closing = _CLOSING_FENCE.match(lines.text[index])
        if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence):
            break
        index += 1
    last = min(index, len(lines) - 1)
    yield _Block("code", *lines.span(first, last, indent=True))
    return last + 1


def _table(lines: _Lines, first: int) -> _Parsed:
    index = first
    while index < len(lines) and _TABLE_LINE.match(lines.text[index]):
        index += 1
    body_start = None
    if index - first >= 3 and _TABLE_RULE.match(lines.text[first + 1]):
        body_start = lines.starts[first + 2]
    yield _Block("table", *lines.span(first, index - 1, indent=True), body_start=body_start)
    return index


def _paragraph(lines: _Lines, first: int) -> _Parsed:
    """A paragraph, or one block per list item of a list."""
    index, item = first + 1, first
    while index < len(lines) and not _ends_paragraph(lines, index):
        if _LIST_ITEM.match(lines.text[index]):
            yield _Block("text", *lines.span(item, index - 1))
            item = index
        index += 1
    yield _Block("text", *lines.span(item, index - 1))
    return index


def _ends_paragraph(lines: _Lines, index: int) -> bool:
    line = lines.text[index]
    return (
        lines.is_blank(index)
        or _FENCE.match(line) is not None
        or _ATX.match(line) is not None
        or _TABLE_LINE.match(line) is not None
    )


_Level = Callable[[str, int, int], list[Span]]


class _Splitter:
    """Cuts blocks too big for one chunk into pieces that fit."""

    def __init__(self, markdown: str, size: int, count: TokenCounter, *, overlap: int = 0) -> None:
        self.markdown = markdown
        self.size = size
        self.count = count
        # Parts of a sentence too long for a chunk leave room for the overlap before them.
        self._parts = _Splitter(markdown, size - overlap, count) if overlap else self

    def fits(self, start: int, end: int, prefix: str = "", suffix: str = "") -> bool:
        return self.count(prefix + self.markdown[start:end] + suffix) <= self.size

    def pieces(self, block: _Block, *, after: int | None = None) -> list[_Piece]:
        """The block whole if it fits; else cut. A block right `after` a heading is cut so that
        its first piece fits along with the heading, which then opens a chunk with it."""
        if self.fits(block.start, block.end) and (
            after is None or block.kind != "text" or self.fits(after, block.end)
        ):
            return [_Piece(block.kind, block.start, block.end, block.section)]
        if block.kind == "table":
            return self._table(block, after)
        if block.kind == "code":
            return self._code(block, after)
        return self._sentences(block)

    def _sentences(self, block: _Block) -> list[_Piece]:
        """A piece per sentence (the packer joins them again); long ones cut at lines, words."""
        spans: list[Span] = []
        for sentence in _sentences(self.markdown, block.start, block.end):
            if self.fits(*sentence):
                spans.append(sentence)
            else:
                spans += self._parts.split(*sentence, (_line_spans, _words))
        return [_Piece("text", start, end, block.section) for start, end in spans]

    def _plain(self, block: _Block, kind: Kind) -> list[_Piece]:
        spans = self.split(block.start, block.end, (_line_spans, _words))
        return [_Piece(kind, start, end, block.section) for start, end in spans]

    def _table(self, block: _Block, after: int | None) -> list[_Piece]:
        """Groups of rows, each after a copy of the header row and rule."""
        if block.body_start is None:
            return self._plain(block, "table")
        header = self.markdown[block.start : block.body_start]
        if self.count(header) > self.size // 2:
            return self._plain(block, "table")
        return self._framed(block, (block.body_start, block.end), header, "", after)

    def _code(self, block: _Block, after: int | None) -> list[_Piece]:
        """Groups of lines, each inside the block's fences."""
        opening, _, rest = self.markdown[block.start : block.end].partition("\n")
        body, _, closing = rest.rpartition("\n")
        if not _CLOSING_FENCE.match(closing):
            body, closing = rest, ""
        prefix, suffix = opening + "\n", ("\n" + closing.strip() if closing else "")
        if not body.strip() or self.count(prefix + suffix) > self.size // 2:
            return self._plain(block, "code")
        body_start = block.start + len(opening) + 1
        return self._framed(
            block, (body_start, body_start + len(body.rstrip())), prefix, suffix, after
        )

    def _framed(
        self, block: _Block, body: Span, prefix: str, suffix: str, after: int | None
    ) -> list[_Piece]:
        """Lines of `body` in groups, each between `prefix` and `suffix` (a table's header, a
        code block's fences), except where the block's own first or last lines stand."""
        lines = _line_spans(self.markdown, *body)
        first_end = self._reach(after, lines, suffix) if after is not None else None
        if first_end is None:
            first_end = self._reach(block.start, lines, suffix)
        spans = [] if first_end is None else [(block.start, first_end)]
        rest = body[0] if first_end is None else first_end + 1
        spans += (
            self.split(rest, body[1], (_line_spans, _words), prefix, suffix)
            if rest < body[1]
            else []
        )
        pieces = []
        for index, (start, end) in enumerate(spans):
            native_start = index == 0 and first_end is not None
            native_end = index == len(spans) - 1 and bool(suffix)
            pieces.append(
                _Piece(
                    block.kind,
                    start,
                    block.end if native_end else end,
                    block.section,
                    prefix="" if native_start else prefix,
                    suffix="" if native_end else suffix,
                )
            )
        return pieces

    def _reach(self, lead: int, lines: Sequence[Span], suffix: str) -> int | None:
        """The end of the last of `lines` that fits in one chunk from `lead` on."""
        reach = None
        for _, end in lines:
            if not self.fits(lead, end, suffix=suffix):
                break
            reach = end
        return reach

    def split(
        self,
        start: int,
        end: int,
        levels: Sequence[_Level],
        prefix: str = "",
        suffix: str = "",
    ) -> list[Span]:
        """Spans covering `[start, end)` that each fit between `prefix` and `suffix`.

        The region is cut at the first level's boundaries (lines, say), pieces still too big at
        the next level's, and neighbouring pieces are joined again while they fit.
        """
        if self.fits(start, end, prefix, suffix):
            return [(start, end)]
        if not levels:
            return self._hard_split(start, end, prefix, suffix)
        units = levels[0](self.markdown, start, end)
        if len(units) <= 1:
            return self.split(start, end, levels[1:], prefix, suffix)
        spans: list[Span] = []
        for unit_start, unit_end in units:
            if spans and self.fits(spans[-1][0], unit_end, prefix, suffix):
                spans[-1] = (spans[-1][0], unit_end)
            elif self.fits(unit_start, unit_end, prefix, suffix):
                spans.append((unit_start, unit_end))
            else:
                spans.extend(self.split(unit_start, unit_end, levels[1:], prefix, suffix))
        return spans

    def _hard_split(self, start: int, end: int, prefix: str, suffix: str) -> list[Span]:
        """Cut between characters: the longest run that fits, at least one character."""
        spans: list[Span] = []
        while start < end:
            # Look no further than 32 characters a token: few tokens are longer.
            window = range(start + 1, min(end, start + 32 * self.size) + 1)
            fitting = bisect.bisect_right(
                window, False, key=lambda at: not self.fits(start, at, prefix, suffix)
            )
            stop = start + max(fitting, 1)
            spans.append((start, stop))
            start = stop
        return spans


def _sentences(text: str, start: int, end: int) -> list[Span]:
    return _cut(text, start, end, _SENTENCE_END)


def _line_spans(text: str, start: int, end: int) -> list[Span]:
    """The non-blank lines, indentation kept."""
    spans, begin = [], start
    for line in text[start:end].split("\n"):
        if line.strip():
            spans.append((begin, begin + len(line.rstrip())))
        begin += len(line) + 1
    return spans


def _cut(text: str, start: int, end: int, boundary: re.Pattern[str]) -> list[Span]:
    """`[start, end)` cut after each match of `boundary`, whitespace around pieces left out."""
    spans: list[Span] = []
    begin = start
    for match in boundary.finditer(text, start, end):
        spans.append((begin, match.start() + len(match.group().rstrip())))
        begin = match.end()
    spans.append((begin, end))
    return [_trim(text, s, e) for s, e in spans if text[s:e].strip()]


def _trim(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    return start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())


def _words(text: str, start: int, end: int) -> list[Span]:
    return [match.span() for match in _WORD.finditer(text, start, end)]


@dataclass(slots=True)
class _Chunk:
    """A chunk being packed: `prefix + markdown[start:end] + suffix`."""

    start: int
    end: int
    section: str | None
    prefix: str
    suffix: str
    content: bool  # holds more than a heading
    prose_from: int | None  # where the prose at its end begins: overlap comes from there


class _Packer:
    """Packs pieces into chunks, section by section and page by page (a chunk never spans
    two pages, so a citation's page is where its passage is), with overlap between
    neighbours."""

    def __init__(
        self,
        markdown: str,
        size: int,
        overlap: int,
        count: TokenCounter,
        page_of: Callable[[int], int | None],
    ) -> None:
        self.markdown = markdown
        self.size = size
        self.overlap = overlap
        self.count = count
        self.page_of = page_of

    def pack(self, pieces: Sequence[_Piece]) -> list[_Chunk]:
        chunks: list[_Chunk] = []
        current: _Chunk | None = None
        for piece in pieces:
            if current is None:
                current = self._open(piece)
            elif self._extends(current, piece):
                self._extend(current, piece)
            else:
                if current.content:
                    chunks.append(current)
                start = self._overlap_start(current, piece) if current.content else None
                current = self._open(piece, start)
        if current is not None and current.content:
            chunks.append(current)
        return chunks

    def _fits(self, start: int, end: int, prefix: str = "", suffix: str = "") -> bool:
        return self.count(prefix + self.markdown[start:end] + suffix) <= self.size

    def _extends(self, chunk: _Chunk, piece: _Piece) -> bool:
        return (
            piece.section == chunk.section
            and self.page_of(piece.start) == self.page_of(chunk.start)
            and not piece.prefix
            and not chunk.suffix
            and self._fits(chunk.start, piece.end, chunk.prefix, piece.suffix)
        )

    def _extend(self, chunk: _Chunk, piece: _Piece) -> None:
        chunk.end, chunk.suffix = piece.end, piece.suffix
        chunk.content = chunk.content or piece.kind != "heading"
        if piece.kind != "text":
            chunk.prose_from = None
        elif chunk.prose_from is None:
            chunk.prose_from = piece.start

    def _open(self, piece: _Piece, start: int | None = None) -> _Chunk:
        if start is None or not self._fits(start, piece.end, suffix=piece.suffix):
            start = piece.start
        prose_from = start if piece.kind == "text" else None
        content = piece.kind != "heading"
        return _Chunk(
            start, piece.end, piece.section, piece.prefix, piece.suffix, content, prose_from
        )

    def _overlap_start(self, previous: _Chunk, piece: _Piece) -> int | None:
        """Where the next chunk starts inside `previous`: at its last whole sentences that fit
        the overlap (at words only when its last sentence alone is longer), if `piece` has room."""
        if (
            self.overlap <= 0
            or previous.prose_from is None
            or previous.suffix
            or piece.prefix
            or piece.section != previous.section
            or self.page_of(piece.start) != self.page_of(previous.start)
        ):
            return None
        for boundary in (_SENTENCE_START, _WORD_START):
            starts = self._tail_starts(boundary, previous, previous.prose_from)
            if starts:
                index = bisect.bisect_left(
                    starts, True, key=lambda at: self._fits(at, piece.end, suffix=piece.suffix)
                )
                return starts[index] if index < len(starts) else None
        return None

    def _tail_starts(self, boundary: re.Pattern[str], chunk: _Chunk, prose_from: int) -> list[int]:
        """Where tails of `chunk` that fit the overlap begin, at `boundary`, longest first."""
        matches = boundary.finditer(self.markdown, prose_from, chunk.end)
        starts = [prose_from, *(match.end() for match in matches)]
        starts = [start for start in starts if chunk.start < start < chunk.end]
        first = bisect.bisect_left(
            starts, True, key=lambda at: self.count(self.markdown[at : chunk.end]) <= self.overlap
        )
        return starts[first:]


def _page_at(pages: Sequence[PageSpan], starts: Sequence[int], offset: int) -> int | None:
    """The page an offset lies on: the last page starting at or before it."""
    if not pages:
        return None
    index = bisect.bisect_right(starts, offset) - 1
    return pages[max(index, 0)].page
