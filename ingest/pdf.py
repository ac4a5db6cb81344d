"""PDFs -> page texts: pdfium reads the text layer and its layout, pypdf checks and opens the file, OCR reads pages without text.

pypdf opens the file first: it decrypts PDFs encrypted with an empty password, and reading
every page's content stream through it stops decompression bombs and damaged streams at its
safety limits with the reasons the user sees. pdfium (pypdfium2) then reads the text with
the glyphs' places on the page (ingest/pdf_lines.py), which the layout puts in reading order
with footnotes after the body (ingest/pdf_layout.py); running heads and page numbers are left
out (ingest/furniture.py), for pages read by OCR too. A page pdfium cannot read is read by
pypdf's text extraction instead.

Limits of the worker (ingest/worker.py): the time limit's alarm interrupts Python, not C, so
a page stops only once pdfium has parsed it (about 0.65 s per MB of content stream here,
which pypdf's decompression limit bounds); pdfium aborts the process when an allocation fails
under the memory limit, which the pool reports as the converter crashing on that file.

A PDF's pages are cleaned one by one and joined with form feeds, so a passage's page is the
number of form feeds before it plus one. Anything that cannot be turned into text raises
ConversionError with a one-line reason and, where there is one, the fix.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ingest.clean import clean
from ingest.converted import PAGE_BREAK, ConversionError, Converted, one_line
from ingest.furniture import EDGE_LINES, furniture, keep_compound_hyphens, text_edges, without_furniture
from ingest.options import IngestOptions
from ingest.pdf_layout import body_size, page_text
from ingest.pdf_lines import Line, page_lines

_ENCRYPTED = "encrypted PDF that needs a password: save a decrypted copy (e.g. `qpdf --decrypt`) and index that"
MAX_WARNINGS = 1000  # kept word for word per file; past that only counted, so a broken file cannot flood memory


@dataclass
class _Page:
    lines: list[Line] | None = None  # read by pdfium, with their places
    plain: str = ""  # read by pypdf or OCR: lines split by "\n"


def convert_pdf(data: bytes, options: IngestOptions) -> Converted:
    """The text of a PDF, page by page; pages without a text layer are read by OCR (ingest/ocr.py)."""
    if b"%PDF-" not in data[:1024]:  # where PDF readers look for the header
        raise ConversionError("not a PDF (no %PDF- header at its start): another kind of file named .pdf, or not a document at all")
    warnings: list[str] = []
    with _capture_pypdf_warnings(warnings):
        with _pypdf_errors():
            reader = _open_checked(data)
        pages = _read_with_pdfium(data, reader, warnings)
    if not pages:
        raise ConversionError("PDF with no pages")
    blank = [i for i, page in enumerate(pages) if not _has_text(page)]
    if blank:
        # Scanned pages: OCR reads them, a partly scanned PDF keeping its text pages. Without
        # an OCR engine a PDF with some text is indexed from that text, with a warning.
        from ingest.ocr import ocr_pdf_pages

        for i, page_text_ in ocr_pdf_pages(data, blank, options, warnings, len(blank) < len(pages)).items():
            pages[i] = _Page(plain=page_text_)
    texts, next_page_spans = _cleaned_pages(pages)
    return Converted(PAGE_BREAK.join(texts), len(texts), warnings, next_page_spans)


def _open_checked(data: bytes) -> object:
    """pypdf's reader of the file, decrypted, each page's content stream read once (its limits apply)."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not _decrypt_with_empty_password(reader):
        raise ConversionError(_ENCRYPTED)
    for page in reader.pages:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
    return reader


@contextmanager
def _pypdf_errors() -> Iterator[None]:
    """pypdf's exceptions as ConversionErrors with the reason and the fix."""
    from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError, PdfReadError

    try:
        yield
    except ConversionError:
        raise
    except FileNotDecryptedError:
        raise ConversionError(_ENCRYPTED) from None
    except DependencyError as exc:
        raise ConversionError(f"cannot decrypt this PDF: {exc}") from None
    except LimitReachedError as exc:
        # pypdf's guards against decompression bombs and reference loops; damaged files
        # trip them too.
        raise ConversionError(
            f"PDF stopped at pypdf's safety limits, damaged or built to exhaust memory ({one_line(exc)}): "
            "if it opens in a PDF viewer, rewrite it with `qpdf in.pdf out.pdf` and index that"
        ) from None
    except NotImplementedError as exc:
        # An unsupported stream filter or encryption method, or a filter name garbled by damage.
        raise ConversionError(
            f"PDF uses something pypdf cannot read ({one_line(exc)}): "
            "if it opens in a PDF viewer, export its text (`pdftotext in.pdf out.txt`) and index that"
        ) from None
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, RecursionError, AssertionError) as exc:
        # pypdf reports damage with many exception types; each means the same to the user.
        raise ConversionError(f"corrupt or truncated PDF ({type(exc).__name__}: {one_line(exc)})") from None


def _read_with_pdfium(data: bytes, reader: object, warnings: list[str]) -> list[_Page]:
    """Each page's lines by pdfium; pages (or a file) pdfium cannot read, by pypdf."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data, password="" if reader.is_encrypted else None)  # type: ignore[attr-defined]
    except pdfium.PdfiumError as exc:
        warnings.append(f"pdfium cannot open it ({one_line(exc)}); its text was read by pypdf")
        return [_Page(plain=_pypdf_text(reader, i)) for i in range(len(reader.pages))]  # type: ignore[attr-defined]
    try:
        pages = []
        for i in range(len(document)):
            try:
                page = document[i]
                textpage = page.get_textpage()
                try:
                    lines, unmapped = page_lines(textpage)
                    if unmapped >= 3 and unmapped >= 0.01 * sum(len(line.text) for line in lines):
                        # pdfium cannot map this page's font to Unicode; pypdf may (ToUnicode
                        # maps, CFF encodings through fontTools).
                        warnings.append(f"page {i + 1}: pdfium cannot map {unmapped} characters to Unicode; its text was read by pypdf")
                        pages.append(_Page(plain=_pypdf_text(reader, i)))
                    else:
                        pages.append(_Page(lines=lines))
                finally:
                    textpage.close()
                    page.close()
            except pdfium.PdfiumError as exc:
                warnings.append(f"page {i + 1}: pdfium cannot read it ({one_line(exc)}); its text was read by pypdf")
                pages.append(_Page(plain=_pypdf_text(reader, i)))
        return pages
    finally:
        document.close()


def _pypdf_text(reader: object, index: int) -> str:
    with _pypdf_errors():
        return reader.pages[index].extract_text() or ""  # type: ignore[attr-defined]


def _has_text(page: _Page) -> bool:
    if page.lines is not None:
        return any(line.text.strip() for line in page.lines)
    return bool(page.plain.strip())


def _cleaned_pages(pages: list[_Page]) -> tuple[list[str], list[tuple[int, int]]]:
    """Each page's cleaned text, and where in the pages joined by form feeds the text of a next page stands.

    A word hyphenated across a page break is made whole on the first page; its rest is
    printed on the next one, so the answers holding it name both (Converted.next_page_spans).
    Body and footnotes are cleaned apart, so the rest's place is known: clean() joins no word
    across the paragraph break between them.
    """
    parts, carried = _page_parts(pages)
    parts = keep_compound_hyphens([part for pair in parts for part in pair])
    texts, spans, offset = [], [], 0
    for i, tail in enumerate(carried):
        body, notes = clean(parts[2 * i]), clean(parts[2 * i + 1])
        rest = clean(tail)
        if rest and body.endswith(rest):
            spans.append((offset + len(body) - len(rest), offset + len(body)))
        texts.append("\n\n".join(part for part in (body, notes) if part))
        offset += len(texts[-1]) + len(PAGE_BREAK)
    return texts, spans


def _page_parts(pages: list[_Page]) -> tuple[list[tuple[str, str]], list[str]]:
    """Each page's body and footnotes without its running heads, feet and page numbers, and
    the rest of a word hyphenated across its page break that its body ends with ("" if none)."""
    edges = []
    for page in pages:
        if page.lines is not None:
            top, bottom = _line_edges(page.lines)
            edges.append((top, bottom, [page.lines[i].text.strip() for i in top], [page.lines[i].text.strip() for i in bottom]))
        else:
            top, bottom = text_edges(page.plain)
            lines = page.plain.split("\n")
            edges.append((top, bottom, [lines[i].strip() for i in top], [lines[i].strip() for i in bottom]))
    drops = furniture([(top_texts, bottom_texts) for _, _, top_texts, bottom_texts in edges])
    # A page whose every line is furniture keeps them: a line alone on its page (the same
    # "Background" on every page) is the page's text, not its running head.
    drops = [drop if _kept(page, top, bottom, drop) else (set(), set()) for page, (top, bottom, _, _), drop in zip(pages, edges, drops)]
    body = body_size(page.lines for page in pages if page.lines is not None)
    bodies, notes = [], []
    for page, (top, bottom, _, _), drop in zip(pages, edges, drops):
        if page.lines is not None:
            gone = {top[i] for i in drop[0]} | {bottom[i] for i in drop[1]}
            laid_out = page_text([line for i, line in enumerate(page.lines) if i not in gone], body)
            bodies.append("\n\n".join(laid_out.body))
            notes.append("\n\n".join(laid_out.footnotes))
        else:
            bodies.append(without_furniture(page.plain, top, bottom, drop))
            notes.append("")
    carried = _join_words_across_pages(bodies)
    return list(zip(bodies, notes)), carried


def _kept(page: _Page, top: list[int], bottom: list[int], drop: tuple[set[int], set[int]]) -> bool:
    """Whether any line of the page is left once its furniture is dropped."""
    gone = {top[i] for i in drop[0]} | {bottom[i] for i in drop[1]}
    texts = [line.text for line in page.lines] if page.lines is not None else page.plain.split("\n")
    return any(text.strip() for i, text in enumerate(texts) if i not in gone)


_BROKEN_AT_END = re.compile(r"[^\W\d_]-\s*$")
_FIRST_WORD = re.compile(r"\s*([^\W\d_]\S*)\s*")


def _join_words_across_pages(bodies: list[str]) -> list[str]:
    """A word hyphenated across a page break ("sta-" | "tion") made whole on the first page;
    returns, per page, the rest of the word moved onto it from the next ("tion", or "").

    The page's footnotes stay after it, and the next page starts at its next word.
    """
    carried = [""] * len(bodies)
    for i in range(len(bodies) - 1):
        if _BROKEN_AT_END.search(bodies[i]):
            match = _FIRST_WORD.match(bodies[i + 1])
            if match and match.group(1)[0].islower():
                bodies[i] = bodies[i].rstrip() + "\n" + match.group(1)
                bodies[i + 1] = bodies[i + 1][match.end():]
                carried[i] = match.group(1)
    return carried


def _line_edges(lines: list[Line]) -> tuple[list[int], list[int]]:
    """Indexes of the lines in the top EDGE_LINES rows of a page (downwards) and the bottom ones (upwards)."""
    def rows(order: list[int]) -> list[int]:
        picked: list[int] = []
        rows_seen = 0
        reach: tuple[float, float] | None = None
        for i in order:
            line = lines[i]
            if reach is None or line.top < reach[0] or line.bottom > reach[1]:
                # Not overlapping the row so far (vertically): a new row.
                if rows_seen == EDGE_LINES:
                    break
                rows_seen += 1
                reach = (line.bottom, line.top)
            picked.append(i)
        return picked

    by_top = sorted(range(len(lines)), key=lambda i: -lines[i].top)
    by_bottom = sorted(range(len(lines)), key=lambda i: lines[i].bottom)
    return rows(by_top), rows(by_bottom)


def _decrypt_with_empty_password(reader: object) -> bool:
    # Many PDFs are encrypted only against editing, with an empty user password.
    from pypdf import PasswordType

    return reader.decrypt("") != PasswordType.NOT_DECRYPTED  # type: ignore[attr-defined]



class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.sink) < MAX_WARNINGS:
            self.sink.append(" ".join(record.getMessage().split())[:200])
        else:
            self.dropped += 1


@contextmanager
def _capture_pypdf_warnings(sink: list[str]) -> Iterator[None]:
    """Collect what pypdf logs about a damaged file, so the report shows it for that file."""
    logger = logging.getLogger("pypdf")
    handler, propagate = _ListHandler(sink), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        if handler.dropped:
            sink.append(f"{handler.dropped} more warnings not kept")
