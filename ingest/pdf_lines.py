"""A PDF page's text as lines with their place on the page, read by pdfium.

pdfium (pypdfium2) puts the spaces between words from the glyphs' positions, so the tightly
justified lines of TeX keep them (pypdf 7 merges such words: `strictlyconstantvelocity`). Its
text comes in content-stream order with a line break where the baseline changes; a line here
is also cut where a gap wider than GAP_EM font sizes parts two runs of text on one baseline
(two columns written line by line across the page, a table's cells), so the layout
(ingest/pdf_layout.py) can put the pieces in reading order.

Geometry is asked of pdfium only where it is needed (around spaces, at a line's ends, at
digits that may be footnote marks), not for every character: each call through ctypes costs
microseconds, and pages must read faster than pypdf reads them.
"""

from __future__ import annotations

import ctypes
import re
import unicodedata
from dataclasses import dataclass

GAP_EM = 2.0  # a gap this many font sizes wide inside a line parts two runs of text
# A footnote mark: a raised, smaller digit or symbol right after a word ("plants.1 He"), not
# inside one ("B2B", "MP3s").
_MARK_CANDIDATE = re.compile("(?<=[^\\s0-9*\u2020\u2021\u00a7])[0-9*\u2020\u2021\u00a7]+(?=[\\s.,;:)]|$)")
# pdfium's codes for a hyphen that ends a line (FPDFText_GetUnicode says 2, FPDFText_GetText U+FFFE)
_WORD = re.compile(r"\S+")
_BREAK = re.compile("\r\n|[\x02\ufffe]")
# A spacing accent right before a letter, as pdflatex's \\={a} and \\'{e} come out, and the
# combining accent it stands for (pdfium gives the accent, then the letter; dotless i and j
# stand for i and j).
_COMBINING = {"\u00af": "\u0304", "\u00b4": "\u0301", "\u00a8": "\u0308", "\u02c6": "\u0302",
              "\u02dc": "\u0303", "\u02d8": "\u0306", "\u02c7": "\u030c", "\u02d9": "\u0307", "\u02da": "\u030a"}
_SPACING_ACCENT = re.compile("([" + "".join(_COMBINING) + "])([^\\W\\d_])")
_BASE = {"\u0131": "i", "\u0237": "j"}
_HYPHENS_AT_BREAK = str.maketrans({"\x02": "-", "\ufffe": "-"})


@dataclass
class Line:
    text: str
    x0: float
    x1: float
    bottom: float  # PDF coordinates: y grows upwards
    top: float
    size: float  # font size of its first character
    marks: list[tuple[int, str]]  # (offset in text, mark) of raised small marks after a word
    words: list[tuple[int, int, float, float, float]]  # (start, end) in text, x0, x1, font size of each word

    @property
    def height(self) -> float:
        return max(self.top - self.bottom, 1.0)


def page_lines(textpage: object) -> tuple[list[Line], int]:
    """The lines of one page (a pypdfium2 PdfTextPage), in content-stream order, and how many
    of its characters pdfium could not map to Unicode (a font without a usable encoding)."""
    import pypdfium2.raw as raw

    tp = textpage.raw  # type: ignore[attr-defined]
    count = raw.FPDFText_CountChars(tp)
    if count <= 0:
        return [], 0
    buffer = ctypes.create_string_buffer((count + 1) * 2)
    written = raw.FPDFText_GetText(tp, 0, count, ctypes.cast(buffer, ctypes.POINTER(ctypes.c_ushort)))
    text = buffer.raw[: max(written - 1, 0) * 2].decode("utf-16-le", errors="replace")
    if len(text) != count:
        # Characters beyond the BMP take two UTF-16 units: read them one by one so that
        # index i of the text is character i of the page.
        text = "".join(chr(raw.FPDFText_GetUnicode(tp, i) or 0xFFFD) for i in range(count))
    reader = _Geometry(raw, tp)
    lines: list[Line] = []
    start = 0
    for end in _line_ends(text):
        lines.extend(_pieces(text, start, end, reader))
        start = end
    # Asked of non-ASCII characters only: that is where failed mappings land (ϲΒϴΒ for Arabic).
    unmapped = sum(1 for i, ch in enumerate(text) if ord(ch) > 127 and raw.FPDFText_HasUnicodeMapError(tp, i))
    return [line for line in lines if line.text.strip()], unmapped


def _line_ends(text: str) -> list[int]:
    """Where pdfium's lines end: after each "\\r\\n" it generates, and after a hyphen that ends a
    line (pdfium joins the hyphenated word's halves, the hyphen marked)."""
    ends = [m.end() for m in _BREAK.finditer(text)]
    if not ends or ends[-1] != len(text):
        ends.append(len(text))
    return ends


class _Geometry:
    def __init__(self, raw: object, tp: object) -> None:
        self.raw, self.tp = raw, tp
        self.rect = raw.FS_RECTF()  # type: ignore[attr-defined]

    def box(self, i: int) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) of character i, from its font's ascent and descent."""
        self.raw.FPDFText_GetLooseCharBox(self.tp, i, self.rect)  # type: ignore[attr-defined]
        r = self.rect
        return r.left, r.right, r.bottom, r.top

    def size(self, i: int) -> float:
        return float(self.raw.FPDFText_GetFontSize(self.tp, i))  # type: ignore[attr-defined]


def _pieces(text: str, start: int, end: int, geometry: _Geometry) -> list[Line]:
    """One pdfium line (text[start:end]) as one Line, or several where gaps or jumps part it."""
    # Words: runs of non-space characters (pdfium's generated spaces and line breaks are spaces).
    words = [m.span() for m in _WORD.finditer(text, start, end)]
    if not words:
        return []
    pieces: list[Line] = []
    spans: list[tuple[int, int, float, float, float]] = []
    previous: tuple[float, float, float, float] | None = None
    # A word's font size is asked of pdfium only where its box's height changes: the loose
    # box is the font's ascent to descent, so in one font the height follows the size.
    size, height = 0.0, -1.0
    for a, b in words:
        box = geometry.box(a)
        last = geometry.box(b - 1) if b - 1 > a else box
        if abs((box[3] - box[2]) - height) > 0.01:
            size, height = geometry.size(a), box[3] - box[2]
        if previous is not None:
            gap = box[0] - previous[1]
            jumped = box[3] < previous[2] or box[2] > previous[3]  # no vertical overlap: another line
            if gap > GAP_EM * max(spans[0][4], 1.0) or gap < -max(size, 1.0) or jumped:
                pieces.append(_line(text, spans, geometry))
                spans = []
        spans.append((a, b, box[0], max(last[1], box[0]), size, box[2], box[3]))  # type: ignore[arg-type]
        previous = (box[0], last[1], min(box[2], last[2]), max(box[3], last[3]))
    pieces.append(_line(text, spans, geometry))
    return pieces


def _line(text: str, spans: list, geometry: _Geometry) -> Line:  # type: ignore[type-arg]
    a, b = spans[0][0], spans[-1][1]
    size = sorted(s[4] for s in spans)[len(spans) // 2]  # the median word's: a leading mark is smaller
    bottom, top = min(s[5] for s in spans), max(s[6] for s in spans)
    chars = text[a:b]
    marks = []
    # A digit or symbol right after a letter or punctuation may be a footnote mark: it is one
    # when its font is smaller and it sits raised. Asked only of those few characters.
    for match in _MARK_CANDIDATE.finditer(chars):
        k = match.start()
        mark_size = geometry.size(a + k)
        mark_box = geometry.box(a + k)
        if mark_size < 0.85 * size and mark_box[2] > bottom + 0.15 * size:
            marks.append((k, match.group()))
    words = [(s[0] - a, s[1] - a, s[2], s[3], s[4]) for s in spans]
    # Same length as the page's characters, so word and mark offsets hold; accents are joined
    # when lines become paragraphs (ingest/pdf_layout.py).
    return Line(chars.translate(_HYPHENS_AT_BREAK), spans[0][2], spans[-1][3], bottom, top, size, marks, words)


def join_accents(text: str) -> str:
    """TeX's accents set as a spacing accent before the letter ("R¯azi") joined into one letter ("Rāzi")."""
    if not _SPACING_ACCENT.search(text):
        return text
    return unicodedata.normalize("NFC", _SPACING_ACCENT.sub(lambda m: _BASE.get(m.group(2), m.group(2)) + _COMBINING[m.group(1)], text))


def split_line(line: Line, k: int) -> tuple[Line, Line]:
    """`line` cut before its word k, in two Lines."""
    cut, start = line.words[k - 1][1], line.words[k][0]
    left_words, right_words = line.words[:k], line.words[k:]
    right = [(s - start, e - start, x0, x1, size) for s, e, x0, x1, size in right_words]
    return (
        Line(line.text[:cut], line.x0, left_words[-1][3], line.bottom, line.top, line.size,
             [(o, m) for o, m in line.marks if o < cut], left_words),
        Line(line.text[start:], right_words[0][2], line.x1, line.bottom, line.top, right_words[0][4],
             [(o - start, m) for o, m in line.marks if o >= start], right),
    )
