"""Documents to Markdown: real PDF, DOCX, PPTX, HTML, CSV, Markdown and text files, made here."""

from __future__ import annotations

import io
import itertools
import zipfile
from concurrent.futures import ThreadPoolExecutor

import docx
import pptx
import pytest
from fpdf import FPDF
from pptx.util import Inches

from homeport.domain.knowledge import Converted
from homeport.errors import DocumentUnreadable, PayloadTooLarge
from homeport.knowledge.chunking import chunk_markdown
from homeport.knowledge.convert import convert, decode_text, detect_format

PAGES = 3
REVENUE = [("Region", "Revenue", "Growth"), ("North", "120", "5%"), ("South", "95", "3%")]

HTML_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Setting up Homeport | Example Docs</title>
<script>document.write("injected by script")</script><style>body { color: red }</style></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/blog">Blog</a></li>
<li><a href="/careers">Careers at Example Corp</a></li></ul></nav>
<main><article>
<h1>Setting up Homeport</h1>
<p>Homeport is a self-hosted platform. This guide explains how to install it on a single server
and how to size that server for a team of any size.</p>
<h2>Requirements</h2>
<p>You need a Linux machine with enough memory. The table lists the sizes we recommend.</p>
<table><thead><tr><th>Team</th><th>CPU cores</th><th>Memory</th></tr></thead>
<tbody><tr><td>Small</td><td>2</td><td>8 GB</td></tr>
<tr><td>Large</td><td>32</td><td>128 GB</td></tr></tbody></table>
<h2>Steps</h2>
<ul><li>Download the package from the releases page.</li>
<li>Run the installer as root on the server.</li>
<li>Open the web interface and create the first administrator.</li></ul>
<p>Check that it runs:</p>
<pre><code>homeport status | grep ready
| not | a table |
| still | code |</code></pre>
</article></main>
<footer><p>Copyright 2024 Example Corp. All rights reserved.</p>
<a href="/privacy">Privacy policy</a></footer>
</body></html>"""


def make_pdf(*, table: bool = False, password: str | None = None, text: bool = True) -> bytes:
    pdf = FPDF()
    pdf.set_title("Quarterly Report")
    pdf.set_font("Helvetica", size=12)
    for number in range(1, PAGES + 1):
        pdf.add_page()
        if not text:
            continue
        pdf.cell(0, 10, f"Chapter {number}", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, f"This is page {number}. " + "Sales went up this quarter. " * 12)
        if table and number == 2:
            with pdf.table() as grid:
                for row in REVENUE:
                    cells = grid.row()
                    for value in row:
                        cells.cell(value)
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    return bytes(pdf.output())


def make_docx(*, title: str | None = "Employee Handbook") -> bytes:
    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.add_heading("Handbook", 0)
    document.add_heading("Holidays", 1)
    document.add_paragraph("Everyone gets 25 days of paid holiday per year.")
    document.add_heading("Carrying over", 2)
    document.add_paragraph("Up to five days carry over to the next year.", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for row, (years, days) in enumerate([("Years", "Days"), ("0-5", "25"), ("5+", "28")]):
        table.cell(row, 0).text = years
        table.cell(row, 1).text = days
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_pptx() -> bytes:
    presentation = pptx.Presentation()
    presentation.core_properties.title = "Company Roadmap"
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Roadmap 2025"
    first.placeholders[1].text = "Ship knowledge bases\nShip apps as code"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Budget"
    shape = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(4), Inches(2))
    for row, (item, cost) in enumerate([("Item", "Cost"), ("GPUs", "100"), ("People", "200")]):
        shape.table.cell(row, 0).text = item
        shape.table.cell(row, 1).text = cost
    second.notes_slide.notes_text_frame.text = "Mention the GPU lead time."
    buffer = io.BytesIO()
    presentation.save(buffer)
    return buffer.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def page_text(doc: Converted, page: int) -> str:
    (span,) = [span for span in doc.pages if span.page == page]
    return doc.markdown[span.start : span.end]


def unreadable(data: bytes, **where: str) -> str:
    with pytest.raises(DocumentUnreadable) as caught:
        convert(data, **where)
    message = caught.value.message
    assert "Traceback" not in message and "Error" not in message
    return message


# PDF


def test_pdf_pages_say_where_each_page_lies() -> None:
    doc = convert(make_pdf(), name="report.pdf")
    assert doc.title == "Quarterly Report"
    assert doc.content_type == "application/pdf"
    assert [span.page for span in doc.pages] == [1, 2, 3]
    for number in range(1, PAGES + 1):
        text = page_text(doc, number)
        assert text.startswith(f"Chapter {number}") and f"This is page {number}." in text
        assert all(f"page {other}." not in text for other in range(1, PAGES + 1) if other != number)
    ends = [(span.start, span.end) for span in doc.pages]
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(ends))


def test_pdf_table_is_a_markdown_table_on_its_page() -> None:
    doc = convert(make_pdf(table=True), name="report.pdf")
    lines = [line.replace(" ", "") for line in page_text(doc, 2).splitlines()]
    header = lines.index("|Region|Revenue|Growth|")
    assert set(lines[header + 1]) == {"|", "-"}
    assert lines[header + 2] == "|North|120|5%|"
    assert "Region" not in page_text(doc, 1) + page_text(doc, 3)


def test_pdf_chunks_cite_the_page_they_start_on() -> None:
    doc = convert(make_pdf(), name="report.pdf")
    chunks = chunk_markdown(doc, size=60, overlap=10)
    assert {chunk.page for chunk in chunks} == {1, 2, 3}
    for chunk in chunks:
        (span,) = [span for span in doc.pages if span.page == chunk.page]
        assert span.start <= chunk.start < span.end
        if chunk.text.startswith("Chapter"):
            assert chunk.text.startswith(f"Chapter {chunk.page}")


def test_encrypted_pdf_is_refused_with_a_clear_message() -> None:
    message = unreadable(make_pdf(password="secret"), name="payroll.pdf")
    assert message.startswith('"payroll.pdf" is password-protected')


def test_pdf_with_only_an_owner_password_is_read() -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica")
    pdf.add_page()
    pdf.cell(0, 10, "Printing is restricted, reading is not.")
    pdf.set_encryption(owner_password="owner")
    assert "reading is not" in convert(bytes(pdf.output()), name="r.pdf").markdown


@pytest.mark.parametrize(
    "data",
    [make_pdf()[:1500], b"%PDF-1.7\n" + bytes(range(256)) * 8],
    ids=["truncated", "garbage"],
)
def test_damaged_pdf_is_refused(data: bytes) -> None:
    assert unreadable(data, name="broken.pdf") == '"broken.pdf" is a damaged PDF.'


def test_pdf_without_text_says_so() -> None:
    message = unreadable(make_pdf(text=False), name="scan.pdf")
    assert message.startswith('"scan.pdf" contains no text') and "OCR" in message


# Office


def test_docx_keeps_headings_lists_tables_and_title() -> None:
    doc = convert(make_docx(), name="handbook.docx")
    assert doc.title == "Employee Handbook"
    assert doc.pages == ()
    lines = doc.markdown.splitlines()
    assert "# Handbook" in lines and "# Holidays" in lines and "## Carrying over" in lines
    assert "* Up to five days carry over to the next year." in lines
    table = lines.index("| Years | Days |")
    assert lines[table + 1 : table + 4] == ["| --- | --- |", "| 0-5 | 25 |", "| 5+ | 28 |"]


def test_docx_without_a_title_property_takes_its_first_heading() -> None:
    assert convert(make_docx(title=None), name="handbook.docx").title == "Handbook"


def test_pptx_slides_are_pages() -> None:
    doc = convert(make_pptx(), name="roadmap.pptx")
    assert doc.title == "Company Roadmap"
    assert [span.page for span in doc.pages] == [1, 2]
    assert page_text(doc, 1).startswith("# Roadmap 2025\nShip knowledge bases")
    second = page_text(doc, 2)
    assert second.startswith("# Budget")
    assert "| Item | Cost |\n| --- | --- |\n| GPUs | 100 |" in second
    assert "Mention the GPU lead time." in second
    assert "Slide number" not in doc.markdown


# HTML


def test_html_keeps_the_article_and_drops_the_boilerplate() -> None:
    doc = convert(
        HTML_PAGE.encode(), url="https://example.org/docs/setup", content_type="text/html"
    )
    assert doc.title == "Setting up Homeport"
    assert doc.content_type == "text/html"
    lines = doc.markdown.splitlines()
    assert lines[0] == "# Setting up Homeport"
    assert "## Requirements" in lines and "## Steps" in lines
    assert "- Run the installer as root on the server." in lines
    table = lines.index("| Team | CPU cores | Memory |")
    assert lines[table + 1] == "|---|---|---|" and lines[table + 3] == "| Large | 32 | 128 GB |"
    code = lines.index("homeport status | grep ready")
    assert lines[code - 1].startswith("```") and lines[code + 1 : code + 4] == [
        "| not | a table |",
        "| still | code |",
        "```",
    ]
    for boilerplate in ("Careers", "Copyright", "Privacy", "injected by script", "color: red"):
        assert boilerplate not in doc.markdown


def test_html_without_main_content_falls_back_to_the_whole_page() -> None:
    page = (
        b"<html><head><title>Contact</title></head><body><footer>Write to us</footer></body></html>"
    )
    doc = convert(page, name="contact.html")
    assert doc.markdown == "Write to us"
    assert doc.title == "Contact"


def test_html_page_built_by_javascript_has_no_text() -> None:
    page = b"<html><body><div id=app></div><script>render('hello')</script></body></html>"
    assert "JavaScript" in unreadable(page, url="https://example.org/app")


def test_html_is_recognised_by_its_content_when_undeclared() -> None:
    assert detect_format(b"  <!DOCTYPE html><html><body>x</body></html>") == "html"
    assert detect_format(b"<p>a fragment is text</p>") == "text"


# Text formats


def test_csv_becomes_a_markdown_table() -> None:
    data = 'name,city\nAnn,Paris\n"Bob, Jr","Lon|don"\n'.encode("utf-8-sig")
    doc = convert(data, name="people.csv")
    assert doc.markdown.splitlines() == [
        "| name | city |",
        "| --- | --- |",
        "| Ann | Paris |",
        "| Bob, Jr | Lon\\|don |",
    ]
    assert doc.title == "people"
    assert doc.content_type == "text/csv"


def test_markdown_is_kept_as_it_is() -> None:
    text = "Intro line\n\n# Guide\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```sh\nmake\n```"
    doc = convert(text.encode(), name="guide.md")
    assert doc.markdown == text
    assert doc.title == "Guide"
    front = "---\ntitle: 'From front matter'\n---\n# Heading\nbody"
    assert convert(front.encode(), name="x.md").title == "From front matter"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_text_with_a_byte_order_mark_is_decoded(encoding: str) -> None:
    text = "Grüße aus Köln — 東京 too.\nSecond line."
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    doc = convert(data, name="notes.txt")
    assert doc.markdown == text
    assert doc.title == "notes"


def test_legacy_encodings_are_detected() -> None:
    western = "Le café est très bon. Über alles, une façade naïve à côté. " * 4
    russian = "Привет, как дела? Это тестовый документ для проверки. " * 3
    assert decode_text(western.encode("cp1252")) == western
    assert decode_text(russian.encode("cp1251")) == russian
    assert decode_text("Grüße".encode("latin-1"), "iso-8859-1") == "Grüße"


def test_line_ends_control_characters_and_blank_runs_are_tidied() -> None:
    doc = convert(b"a\r\nb  \rc\x0c\x07\n\n\n\nd\n", name="t.txt")
    assert doc.markdown == "a\nb\nc\n\nd"


def test_empty_text_is_refused() -> None:
    assert unreadable(b" \n\n ", name="empty.txt") == '"empty.txt" contains no text.'


# Detection


def test_content_type_comes_before_the_extension() -> None:
    page = b"<html><body><p>A page saved with the wrong extension.</p></body></html>"
    assert detect_format(page, name="page.txt", content_type="text/html") == "html"
    assert detect_format(b"# Title", name="readme.md", content_type="text/plain") == "markdown"
    assert detect_format(b"a,b", url="https://x.org/data.csv?v=1") == "csv"
    assert detect_format(b"plain", name="notes", content_type="application/octet-stream") == "text"


def test_magic_bytes_win_for_binary_formats() -> None:
    doc = convert(make_pdf(), name="notes.txt", content_type="text/plain")
    assert doc.content_type == "application/pdf" and len(doc.pages) == PAGES
    assert detect_format(make_docx(), content_type="application/octet-stream") == "docx"
    assert detect_format(make_pptx(), name="deck.pdf") == "pptx"


def test_text_claiming_to_be_a_pdf_is_refused() -> None:
    message = unreadable(b"Hello, I am text.", name="fake.pdf", content_type="application/pdf")
    assert message == '"fake.pdf" is not a PDF (its content does not match its type).'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "is an image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64), "legacy (.doc, .ppt, .xls)"),
        (bytes(range(256)), "binary data of an unknown type"),
        (zip_of({"xl/workbook.xml": b"<workbook/>"}), "Excel workbook"),
        (zip_of({"readme.txt": b"hi"}), "is a ZIP archive"),
        (b"PK\x03\x04 not really a zip", "damaged ZIP archive"),
    ],
    ids=["image", "legacy-office", "binary", "xlsx", "zip", "broken-zip"],
)
def test_unsupported_binary_is_refused(data: bytes, expected: str) -> None:
    message = unreadable(data, name="upload.bin")
    assert message.startswith('"upload.bin" ') and expected in message


def test_damaged_docx_is_refused() -> None:
    message = unreadable(zip_of({"word/document.xml": b"<not-xml"}), name="memo.docx")
    assert (
        message == '"memo.docx" could not be read as a Word document: it is damaged or malformed.'
    )


def test_office_file_that_unpacks_too_big_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", "<w:document/>")
        with archive.open("word/media/zeros.bin", "w", force_zip64=True) as entry:
            for _ in range(257):
                entry.write(bytes(1 << 20))
    with pytest.raises(PayloadTooLarge, match=r'"bomb.docx" unpacks to more than 256 MiB'):
        convert(buffer.getvalue(), name="bomb.docx")


def test_conversions_run_side_by_side_in_threads() -> None:
    documents = [make_pdf(), make_pdf(table=True), make_pdf(), make_docx(), make_pptx()]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda data: convert(data, name="doc"), documents))
    assert together == [convert(data, name="doc") for data in documents]


def test_a_document_without_a_name_is_called_the_document() -> None:
    assert unreadable(b"\x89PNG\r\n\x1a\n").startswith("The document is an image")


def test_documentation_permalinks_are_dropped_from_headings_and_titles() -> None:
    html = (
        "<html><head><title>bisect — Array bisection¶</title></head><body><main>"
        '<h1>bisect — Array bisection<a class="headerlink" href="#x">¶</a></h1>'
        "<p>This module provides support for maintaining a list in sorted order without "
        "having to sort the list after each insertion. It uses a basic bisection "
        "algorithm to do its work, and the source code may be most useful as an example.</p>"
        "</main></body></html>"
    ).encode()
    converted = convert(html, name="bisect.html", content_type="text/html")
    assert "¶" not in converted.markdown and "¶" not in (converted.title or "")
    assert converted.title == "bisect — Array bisection"
