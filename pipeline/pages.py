"""An answer on its page: a PDF page rendered as PNG, with the answer's words boxed.

The stored passage text is a cleaned version of the page's text (words hyphenated across
lines joined, whitespace collapsed, running heads dropped by the converter), so an answer's
offsets in its passage are not offsets in pdfium's character list. The answer is found on
the page by its letters and digits alone (`fold`: NFKC, case-folded, everything else
dropped, so "hyphen-\\nated", "ﬁle" and "File" match "hyphenated", "file" and "file"), and
of several occurrences the one whose surroundings on the page agree longest with the
passage's text around the answer is taken (`locate`). Its characters' boxes, from pdfium,
are merged into one box a line.

pdfium is not thread-safe: every call into it here holds `PDFIUM_LOCK`.
"""

from __future__ import annotations

import functools
import io
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ingest.converted import PAGE_BREAK, pages_of
from store.errors import DocqaError

PDFIUM_LOCK = threading.Lock()
MIN_WIDTH, MAX_WIDTH, DEFAULT_WIDTH = 200, 2400, 1000  # pixels of the rendered page's width
# How much of the passage around the answer decides between occurrences on the page.
_CONTEXT_CHARS = 400


class PageError(DocqaError):
    """A page that cannot be rendered: `status` is the HTTP form (404 no such page, 415 not a PDF, 422 bad highlight)."""

    def __init__(self, status: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status, self.field = status, field


@dataclass(frozen=True)
class Highlight:
    """What to box on a page: `answer`, with the passage text before and after it on the same page."""

    answer: str
    before: str = ""
    after: str = ""


@dataclass(frozen=True)
class RenderedPage:
    png: bytes
    width: int
    height: int
    boxes: tuple[tuple[int, int, int, int], ...]  # the highlight, in pixels: left, top, right, bottom


def fold(chars: Sequence[str]) -> tuple[str, list[int]]:
    """The letters and digits of `chars`, NFKC-normalised and case-folded, and for each the index of the char it came from."""
    out: list[str] = []
    where: list[int] = []
    for index, char in enumerate(chars):
        for folded in unicodedata.normalize("NFKC", char).casefold():
            if folded.isalnum():
                out.append(folded)
                where.append(index)
    return "".join(out), where


def locate(page: str, answer: str, before: str = "", after: str = "") -> tuple[int, int] | None:
    """Where `answer` stands in the folded page text `page` (start, end), all three folded.

    Of its occurrences, the one with the longest agreement of `before` with what precedes it
    plus `after` with what follows (the passage's text around the answer) wins; the first
    on a tie. None when the answer has no letter or digit, or is not on the page.
    """
    if not answer:
        return None
    best: tuple[int, int] | None = None
    at = page.find(answer)
    while at >= 0:
        agree = _common_suffix(before, page[max(0, at - len(before)) : at]) + _common_prefix(after, page[at + len(answer) : at + len(answer) + len(after)])
        if best is None or agree > best[1]:
            best = (at, agree)
        at = page.find(answer, at + 1)
    return None if best is None else (best[0], best[0] + len(answer))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _common_suffix(a: str, b: str) -> int:
    return _common_prefix(a[::-1], b[::-1])


def highlight_in_passage(
    text: str, start: int, end: int, page_of_passage: int | None, page: int, next_page_spans: Sequence[Sequence[int]] = ()
) -> Highlight:
    """The part of `text[start:end]` (an answer in its passage) that stands on `page`, with its surroundings.

    Passages hold PDF page breaks as form feeds, and the rest of a word hyphenated across a
    break before it (`next_page_spans`, ingest.converted.pages_of); an answer across a break
    is boxed on each of its pages, a part on each. The page's text is the passage's
    characters on it, in order. PageError(422) when offsets are out of the passage or the
    answer is on other pages.
    """
    if not 0 <= start < end <= len(text):
        raise PageError(422, "highlight", f"the offsets {start}:{end} are not an answer's in a passage of {len(text)} characters: 0 <= start < end <= {len(text)}")
    pages = pages_of(text, page_of_passage or 1, next_page_spans)
    held = sorted({pages[i] for i in range(start, end) if text[i] != PAGE_BREAK})
    if page not in held:
        on = f"page {held[0]}" if len(held) == 1 else f"pages {held[0]}-{held[-1]}"
        raise PageError(422, "highlight", f"this answer is on {on}, not on page {page}: ask for /pages/{held[0]}")
    on_page = [i for i, p in enumerate(pages) if p == page and text[i] != PAGE_BREAK]
    first = next(k for k, i in enumerate(on_page) if start <= i)
    last = first
    while last < len(on_page) and on_page[last] < end:
        last += 1

    def chars(indexes: list[int]) -> str:
        return "".join(text[i] for i in indexes)

    return Highlight(chars(on_page[first:last]), chars(on_page[max(0, first - _CONTEXT_CHARS) : first]), chars(on_page[last : last + _CONTEXT_CHARS]))


def render_page(path: str, page: int, width: int = DEFAULT_WIDTH, highlight: Highlight | None = None) -> RenderedPage:
    """Page `page` (1-based) of the PDF at `path` as a PNG `width` pixels wide, with `highlight` boxed."""
    import os

    stat = os.stat(path)  # the cache is keyed on the file's identity: a changed file renders anew
    return _render(path, stat.st_mtime_ns, stat.st_size, page, width, highlight)


@functools.lru_cache(maxsize=48)
def _render(path: str, _mtime: int, _size: int, page: int, width: int, highlight: Highlight | None) -> RenderedPage:
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise PageError(422, "width", f"width must be {MIN_WIDTH} to {MAX_WIDTH} pixels, got {width}")
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(path)
        except pdfium.PdfiumError as exc:
            raise PageError(415, None, f"{path} cannot be read as a PDF: {exc}") from None
        try:
            if not 1 <= page <= len(document):
                raise PageError(404, "page", f"the document has {len(document)} page{'s' if len(document) != 1 else ''}: page {page} is not one of them")
            pdf_page = document[page - 1]
            scale = width / pdf_page.get_width()
            image = pdf_page.render(scale=scale).to_pil().convert("RGB")
            boxes = _boxes(pdf_page, highlight, image.width, image.height) if highlight is not None else []
        finally:
            document.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for box in boxes:
            draw.rectangle(box, fill=(255, 190, 0, 110), outline=(230, 110, 0, 255), width=max(2, width // 500))
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return RenderedPage(out.getvalue(), image.width, image.height, tuple(boxes))


def _boxes(pdf_page: object, highlight: Highlight, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Pixel boxes, one a line, of the highlight's characters on the page (none when it is not found)."""
    import ctypes

    import pypdfium2.raw as raw

    text_page = pdf_page.get_textpage()  # type: ignore[attr-defined]
    try:
        count = text_page.count_chars()
        chars = [chr(raw.FPDFText_GetUnicode(text_page, i)) for i in range(count)]
        page_text, where = fold(chars)
        span = locate(page_text, fold(highlight.answer)[0], fold(highlight.before)[0], fold(highlight.after)[0])
        if span is None:
            return []
        first, last = where[span[0]], where[span[1] - 1]
        lines: list[list[float]] = []  # left, bottom, right, top in page units
        for i in range(first, last + 1):
            if chars[i].isspace() or raw.FPDFText_IsGenerated(text_page, i) == 1:
                continue
            left, bottom, right, top = text_page.get_charbox(i, loose=True)
            line = lines[-1] if lines else None
            # A new line when the char's vertical middle is outside the current line, or it goes back left.
            if line is None or not line[1] <= (bottom + top) / 2 <= line[3] or left < line[0] - 1:
                lines.append([left, bottom, right, top])
            else:
                line[0], line[1], line[2], line[3] = min(line[0], left), min(line[1], bottom), max(line[2], right), max(line[3], top)
    finally:
        text_page.close()

    def device(x: float, y: float) -> tuple[int, int]:
        dx, dy = ctypes.c_int(), ctypes.c_int()
        raw.FPDF_PageToDevice(pdf_page, 0, 0, width, height, 0, x, y, dx, dy)
        return dx.value, dy.value

    boxes = []
    pad = max(1, math.ceil(width / 400))
    for left, bottom, right, top in lines:
        (x0, y0), (x1, y1) = device(left, top), device(right, bottom)
        boxes.append((max(0, min(x0, x1) - pad), max(0, min(y0, y1) - pad), min(width - 1, max(x0, x1) + pad), min(height - 1, max(y0, y1) + pad)))
    return boxes
