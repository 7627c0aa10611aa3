"""Documents to Markdown: PDF, Word (DOCX), PowerPoint (PPTX), HTML, Markdown, text and CSV.

`convert` finds the format from the content type, then the file extension, then the leading
bytes (which win for binary formats), and converts: markitdown for PDF, DOCX, PPTX and CSV
(tables kept as Markdown tables), trafilatura for the main content of an HTML page (markitdown
when trafilatura finds none). PDF pages and slides are converted one by one, so the result
says where each lies in the Markdown. Nothing in a document is executed or rendered.

It is synchronous and CPU-bound: callers run it in a thread.
"""

from __future__ import annotations

import codecs
import functools
import io
import logging
import re
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

from homeport.domain.knowledge import Converted, PageSpan
from homeport.errors import DocumentUnreadable, HomeportError, PayloadTooLarge

logger = logging.getLogger(__name__)

Format = Literal["pdf", "docx", "pptx", "html", "markdown", "text", "csv"]

MEDIA_TYPES: dict[Format, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
    "csv": "text/csv",
}
_CONTENT_TYPES: dict[str, Format] = {
    **{media_type: fmt for fmt, media_type in MEDIA_TYPES.items()},
    "application/x-pdf": "pdf",
    "application/xhtml+xml": "html",
    "text/x-markdown": "markdown",
    "application/csv": "csv",
}
_EXTENSIONS: dict[str, Format] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".csv": "csv",
}
_BINARY: frozenset[Format] = frozenset({"pdf", "docx", "pptx"})
_DESCRIPTIONS: dict[Format, str] = {
    "pdf": "a PDF",
    "docx": "a Word document",
    "pptx": "a PowerPoint presentation",
    "html": "HTML",
    "markdown": "Markdown",
    "text": "text",
    "csv": "CSV",
}
_EMPTY_HINTS: dict[Format, str] = {
    "pdf": " (a scanned PDF holds only images of text, and Homeport does not do OCR)",
    "html": " (pages that build their content with JavaScript cannot be read)",
}
_SUPPORTED = "PDF, DOCX, PPTX, HTML, Markdown, text and CSV"
_UNSUPPORTED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "a legacy (.doc, .ppt, .xls) or password-protected Office file",
    ),
    (b"\x89PNG\r\n\x1a\n", "an image"),
    (b"\xff\xd8\xff", "an image"),
    (b"GIF8", "an image"),
    (b"\x1f\x8b", "a compressed archive"),
    (b"7z\xbc\xaf\x27\x1c", "a compressed archive"),
    (b"Rar!\x1a\x07", "a compressed archive"),
    (b"\x7fELF", "a program"),
    (b"{\\rtf", "an RTF document"),
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HTML_START = re.compile(
    rb"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html)\b", re.I | re.S
)
_MAX_UNPACKED = 256 * 1024 * 1024  # a DOCX or PPTX that unpacks to more is refused (zip bomb)
_MAX_CORE_XML = 1024 * 1024
_DC_TITLE = "{http://purl.org/dc/elements/1.1/}title"
_DOCX_STYLES = "p[style-name='Title'] => h1:fresh\np[style-name='Subtitle'] => h2:fresh"
_SLIDE_MARK = re.compile(r"^<!-- Slide number: (\d+) -->$", re.M)
_FIRST_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.M)
_FRONT_MATTER = re.compile(r"---\n(.*?)\n(?:---|\.\.\.)$", re.S | re.M)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*([\"']?)(.+?)\1[ \t]*$", re.M)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"\n{3,}")
_TABLE_ROW = re.compile(r" {0,3}\|")
_FENCE = re.compile(r" {0,3}(?:```|~~~)")
_TABLE_RULE = re.compile(r" {0,3}\|[ \t:|-]*-[ \t:|-]*$")
_BLANK_ROW = re.compile(r" {0,3}\|[ \t|]*$")
_CELL_BAR = re.compile(r"(?<!\\)\|")
_QUIET_LOGGERS = {
    "pdfminer": logging.ERROR,
    "pdfplumber": logging.ERROR,
    "trafilatura": logging.CRITICAL,
    "htmldate": logging.CRITICAL,
    "courlan": logging.CRITICAL,
}

_pdfium_lock = threading.Lock()  # PDFium is not thread-safe: one call at a time


@dataclass(frozen=True, slots=True)
class _Source:
    """What a format's converter reads."""

    data: bytes
    label: str
    charset: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class _Extracted:
    """A converter's output: Markdown in parts (a PDF page or slide each, with its number)."""

    parts: Sequence[tuple[int | None, str]]
    title: str | None = None


def convert(
    data: bytes,
    *,
    name: str | None = None,
    content_type: str | None = None,
    url: str | None = None,
) -> Converted:
    """Convert a document to Markdown, with its title and, for PDFs and slides, its pages.

    Raises DocumentUnreadable for a malformed, encrypted, empty or unsupported document, and
    PayloadTooLarge for an Office file that unpacks to more than 256 MiB.
    """
    _quiet_libraries()
    label = _label(name, url)
    fmt = detect_format(data, name=name, content_type=content_type, url=url)
    source = _Source(data, label, _charset(content_type), url)
    extracted = _extract(fmt, source)
    markdown, pages = _assemble(extracted.parts)
    if not markdown:
        raise DocumentUnreadable(f"{label} contains no text{_EMPTY_HINTS.get(fmt, '')}.")
    title = extracted.title or _markdown_title(markdown) or _name_title(name, url)
    return Converted(markdown=markdown, title=title, pages=pages, content_type=MEDIA_TYPES[fmt])


def detect_format(
    data: bytes,
    *,
    name: str | None = None,
    content_type: str | None = None,
    url: str | None = None,
) -> Format:
    """The document's format: declared (content type, then extension), checked by its bytes."""
    label = _label(name, url)
    declared = _declared(content_type, name, url)
    sniffed = _sniff(data, label, declared)
    if sniffed is not None:
        return sniffed
    if declared in _BINARY:
        raise DocumentUnreadable(
            f"{label} is not {_DESCRIPTIONS[declared]} (its content does not match its type)."
        )
    return declared or ("html" if _HTML_START.match(data[:4096]) else "text")


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Text from bytes: by byte-order mark, else UTF-8, `charset`, a detected charset, latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    for encoding in ("utf-8", charset or ""):
        if encoding:
            try:
                return data.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                pass
    return data.decode(_detect_charset(data), errors="replace")


def _detect_charset(data: bytes) -> str:
    """charset-normalizer's guess; Windows-1252 when it is about as good (short Western text
    fits many code pages, and 1252 is by far the most common of them)."""
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return "latin-1"
    for match in matches:
        if (
            "cp1252" in match.could_be_from_charset
            and match.chaos <= best.chaos + 0.05
            and match.coherence >= best.coherence - 0.1
        ):
            return "cp1252"
    return best.encoding


def _label(name: str | None, url: str | None) -> str:
    return f'"{name or url}"' if name or url else "The document"


def _media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def _charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _declared(content_type: str | None, name: str | None, url: str | None) -> Format | None:
    """The format the content type says, else the file name's or URL's extension."""
    by_type = _CONTENT_TYPES.get(_media_type(content_type))
    by_name = _extension_format(name) or _extension_format(_url_path(url))
    if by_type == "text" and by_name is not None and by_name not in _BINARY:
        return by_name  # servers send text/plain for any text file, Markdown and CSV included
    return by_type or by_name


def _extension_format(path: str | None) -> Format | None:
    return _EXTENSIONS.get(PurePosixPath(path).suffix.lower()) if path else None


def _url_path(url: str | None) -> str | None:
    return unquote(urlsplit(url).path) if url else None


def _sniff(data: bytes, label: str, declared: Format | None) -> Format | None:
    """The binary format the leading bytes show; None for text. Refuses other binary data."""
    head = data[:1024]
    if head.lstrip().startswith(b"%PDF-") or (declared == "pdf" and b"%PDF-" in head):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data, label)
    if any(data.startswith(bom) for bom, _ in _BOMS):
        return None
    for magic, kind in _UNSUPPORTED_MAGIC:
        if data.startswith(magic):
            raise DocumentUnreadable(f"{label} is {kind}, not a supported document ({_SUPPORTED}).")
    if b"\x00" in data[:8192]:
        raise DocumentUnreadable(
            f"{label} is binary data of an unknown type, not a supported document ({_SUPPORTED})."
        )
    return None


def _sniff_zip(data: bytes, label: str) -> Format:
    """DOCX or PPTX, told apart by their main part; refuses other archives and zip bombs."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DocumentUnreadable(f"{label} is a damaged ZIP archive or Office file.") from exc
    if "xl/workbook.xml" in names:
        raise DocumentUnreadable(f"{label} is an Excel workbook: export its sheets as CSV.")
    if "word/document.xml" not in names and "ppt/presentation.xml" not in names:
        raise DocumentUnreadable(
            f"{label} is a ZIP archive, not a supported document ({_SUPPORTED})."
        )
    if unpacked > _MAX_UNPACKED:
        raise PayloadTooLarge(f"{label} unpacks to more than {_MAX_UNPACKED // 2**20} MiB.")
    return "docx" if "word/document.xml" in names else "pptx"


@functools.cache
def _quiet_libraries() -> None:
    """Keep the parsers' remarks about odd documents out of the logs."""
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(level)


def _extract(fmt: Format, source: _Source) -> _Extracted:
    """Run the format's converter; a library's failure becomes DocumentUnreadable."""
    try:
        return _CONVERTERS[fmt](source)
    except HomeportError:
        raise
    except Exception as exc:
        logger.debug("converting %s failed", source.label, exc_info=True)
        raise DocumentUnreadable(
            f"{source.label} could not be read as {_DESCRIPTIONS[fmt]}: it is damaged or malformed."
        ) from exc


def _pdf(source: _Source) -> _Extracted:
    """Each page on its own through markitdown, so that its place in the Markdown is known."""
    from markitdown import StreamInfo
    from markitdown.converters import PdfConverter

    converter = PdfConverter()
    info = StreamInfo(mimetype=MEDIA_TYPES["pdf"], extension=".pdf")
    with _PdfPages(source) as pdf:
        parts = [
            (index + 1, converter.convert(io.BytesIO(pdf.page(index)), info).markdown)
            for index in range(pdf.count)
        ]
    return _Extracted(parts, pdf.title)


class _PdfPages:
    """A PDF's pages, each copied out as a PDF of its own, through PDFium one call at a time."""

    def __init__(self, source: _Source) -> None:
        import pypdfium2 as pdfium

        try:
            with _pdfium_lock:
                self._document = pdfium.PdfDocument(source.data)
                self.count: int = len(self._document)
                metadata = self._document.get_metadata_dict(skip_empty=True)
        except pdfium.PdfiumError as exc:
            if exc.err_code == pdfium.raw.FPDF_ERR_PASSWORD:
                raise DocumentUnreadable(
                    f"{source.label} is password-protected: "
                    "remove the password and upload it again."
                ) from exc
            raise DocumentUnreadable(f"{source.label} is a damaged PDF.") from exc
        self.title = _clean_title(metadata.get("Title"))

    def __enter__(self) -> _PdfPages:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with _pdfium_lock:
            self._document.close()

    def page(self, index: int) -> bytes:
        import pypdfium2 as pdfium

        buffer = io.BytesIO()
        with _pdfium_lock:
            single = pdfium.PdfDocument.new()
            try:
                single.import_pages(self._document, [index])
                single.save(buffer)
            finally:
                single.close()
        return buffer.getvalue()


def _docx(source: _Source) -> _Extracted:
    from markitdown import StreamInfo
    from markitdown.converters import DocxConverter

    info = StreamInfo(mimetype=MEDIA_TYPES["docx"], extension=".docx")
    converter = DocxConverter()  # type: ignore[no-untyped-call]
    result = converter.convert(io.BytesIO(source.data), info, style_map=_DOCX_STYLES)
    return _Extracted([(None, _tidy_tables(result.markdown))], _office_title(source.data))


def _pptx(source: _Source) -> _Extracted:
    """Each slide a page: markitdown marks where each begins."""
    from markitdown import StreamInfo
    from markitdown.converters import PptxConverter

    info = StreamInfo(mimetype=MEDIA_TYPES["pptx"], extension=".pptx")
    converter = PptxConverter()  # type: ignore[no-untyped-call]
    markdown = converter.convert(io.BytesIO(source.data), info).markdown
    pieces = _SLIDE_MARK.split(markdown)
    slides = [(int(number), text) for number, text in zip(pieces[1::2], pieces[2::2], strict=True)]
    return _Extracted([(None, pieces[0]), *slides], _office_title(source.data))


_PERMALINK = re.compile(r"[ \t]*¶")


def _html(source: _Source) -> _Extracted:
    """The page's main content through trafilatura; the whole page if it finds none."""
    import trafilatura

    html = decode_text(source.data, source.charset)
    document = trafilatura.bare_extraction(
        html,
        url=source.url,
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        include_formatting=True,
        include_images=False,
        include_links=False,
        favor_recall=True,
    )
    text = getattr(document, "text", None)
    if isinstance(text, str) and text.strip():
        title = _clean_title(getattr(document, "title", None))
        return _Extracted([(None, _tidy_tables(_no_permalinks(text)))], title)
    return _html_fallback(html, source.url)


def _no_permalinks(markdown: str) -> str:
    """Without the ¶ anchors documentation generators (Sphinx, ...) put after headings."""
    return _PERMALINK.sub("", markdown)


def _html_fallback(html: str, url: str | None) -> _Extracted:
    from markitdown.converters import HtmlConverter

    result = HtmlConverter().convert_string(html, url=url)
    markdown = _tidy_tables(_no_permalinks(result.markdown))
    return _Extracted([(None, markdown)], _clean_title(result.title))


def _text(source: _Source) -> _Extracted:
    return _Extracted([(None, decode_text(source.data, source.charset))])


def _csv(source: _Source) -> _Extracted:
    """One Markdown table, the first row its header."""
    from markitdown import StreamInfo
    from markitdown.converters import CsvConverter

    text = decode_text(source.data, source.charset)
    info = StreamInfo(mimetype="text/csv", extension=".csv", charset="utf-8")
    converter = CsvConverter()  # type: ignore[no-untyped-call]
    return _Extracted([(None, converter.convert(io.BytesIO(text.encode()), info).markdown)])


_CONVERTERS: dict[Format, Callable[[_Source], _Extracted]] = {
    "pdf": _pdf,
    "docx": _docx,
    "pptx": _pptx,
    "html": _html,
    "markdown": _text,
    "text": _text,
    "csv": _csv,
}


def _assemble(parts: Sequence[tuple[int | None, str]]) -> tuple[str, tuple[PageSpan, ...]]:
    """The parts joined by blank lines, and where each numbered part (a page) lies."""
    texts: list[str] = []
    pages: list[PageSpan] = []
    offset = 0
    for number, part in parts:
        text = _normalize(part)
        if not text.strip():
            continue
        if texts:
            offset += 2
        if number is not None:
            pages.append(PageSpan(page=number, start=offset, end=offset + len(text)))
        texts.append(text)
        offset += len(text)
    return "\n\n".join(texts), tuple(pages)


def _normalize(text: str) -> str:
    """Unix line ends, no control characters or trailing spaces, at most one blank line."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def _tidy_tables(markdown: str) -> str:
    """Give every table a header row and a rule under it, as converters do not always."""
    lines = markdown.split("\n")
    tidy: list[str] = []
    index, in_code = 0, False
    while index < len(lines):
        end = index
        while not in_code and end < len(lines) and _TABLE_ROW.match(lines[end]):
            end += 1
        if end == index:
            in_code ^= _FENCE.match(lines[index]) is not None
            tidy.append(lines[index])
            index += 1
        else:
            tidy.extend(_tidy_table(lines[index:end]))
            index = end
    return "\n".join(tidy)


def _tidy_table(rows: list[str]) -> list[str]:
    """An empty header row gives way to the first row; a table without a rule gets one."""
    if len(rows) < 2:
        return rows
    if _TABLE_RULE.match(rows[1]):
        if len(rows) > 2 and _BLANK_ROW.match(rows[0]):
            return [rows[2], rows[1], *rows[3:]]
        return rows
    columns = max(len(_CELL_BAR.findall(rows[0])) - 1, 1)
    return [rows[0], "|" + " --- |" * columns, *rows[1:]]


def _office_title(data: bytes) -> str | None:
    """The title in a DOCX's or PPTX's core properties."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("docProps/core.xml")
            if info.file_size > _MAX_CORE_XML:
                return None
            root = ElementTree.fromstring(archive.read(info))
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError):
        return None
    element = root.find(_DC_TITLE)
    return _clean_title(element.text if element is not None else None)


def _clean_title(title: object) -> str | None:
    if not isinstance(title, str):
        return None
    return " ".join(_no_permalinks(title).split()) or None


def _markdown_title(markdown: str) -> str | None:
    """The YAML front matter's title, else the first heading's text."""
    front_matter = _FRONT_MATTER.match(markdown)
    if front_matter and (title := _FRONT_MATTER_TITLE.search(front_matter.group(1))):
        return _clean_title(title.group(2))
    heading = _FIRST_HEADING.search(markdown)
    return _clean_title(heading.group(1).replace("**", "").strip("`")) if heading else None


def _name_title(name: str | None, url: str | None) -> str | None:
    """The file name without its extension, else the URL's last path segment or host."""
    if name:
        return PurePosixPath(name.replace("\\", "/")).stem or name
    if url:
        path = PurePosixPath(_url_path(url) or "")
        return path.stem or urlsplit(url).hostname
    return None
