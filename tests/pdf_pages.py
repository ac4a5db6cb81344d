"""PDFs written byte by byte, with each run of text placed where a test wants it.

fpdf2 writes text the way word processors do; papers set by TeX place words with kerning
(`[(strictly) -250 (constant)] TJ`, no space characters) and fonts in any order. This writer
puts each text run at a given place, size and font, so tests can build two-column pages
written row by row, running heads, footnotes in a smaller font, raised footnote marks and
tightly justified lines, and know exactly what the page says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PAGE_WIDTH, PAGE_HEIGHT = 612, 792
_MARK = re.compile(r"\{(\w+)\}")  # "river.{1} The": a raised footnote mark in a run's text


def _helvetica_widths() -> bytes:
    """Helvetica's widths, but the space (code 32) as wide as the visible-space slot of TeX's T1
    fonts: pypdf takes a gap narrower than that for no space, as in pdflatex's papers."""
    from fpdf.fonts import CORE_FONTS_CHARWIDTHS

    widths = [CORE_FONTS_CHARWIDTHS["helvetica"].get(chr(code), 500) for code in range(32, 256)]
    widths[0] = 700
    return b" ".join(b"%d" % w for w in widths)


def tex_like_font() -> bytes:
    return (b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding "
            b"/FirstChar 32 /LastChar 255 /Widths [" + _helvetica_widths() + b"] >>")


@dataclass(frozen=True)
class Run:
    x: float
    y: float  # baseline, from the page's bottom
    text: str  # words, "{1}" a raised footnote mark; with tight=True a TJ array without spaces
    size: float = 10.0
    tight: bool = False  # words parted by kerning alone (-250/1000 em), as TeX justifies


def _escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252")  # the font's WinAnsiEncoding


def _shown(text: str, tight: bool) -> bytes:
    if tight:
        return b"[" + b" -250 ".join(b"(" + _escape(word) + b")" for word in text.split(" ")) + b"] TJ"
    return b"(" + _escape(text) + b") Tj"


def content(runs: list[Run]) -> bytes:
    out = []
    for run in runs:
        parts = [b"BT /F1 %.2f Tf %.2f %.2f Td" % (run.size, run.x, run.y)]
        for i, piece in enumerate(_MARK.split(run.text)):
            if i % 2:  # a mark: 0.6 of the size, raised by 0.4 of the size
                parts.append(b"/F1 %.2f Tf %.2f Ts " % (0.6 * run.size, 0.4 * run.size) + _shown(piece, False) + b" /F1 %.2f Tf 0 Ts" % run.size)
            elif piece:
                parts.append(_shown(piece, run.tight))
        out.append(b" ".join(parts) + b" ET")
    return b"\n".join(out)


def write_pdf_bytes(pages: list[bytes], font: bytes | None = None, extra: list[bytes] | None = None) -> bytes:
    """A PDF of `pages` (content streams) with font /F1 (tex_like_font() unless `font` is its dictionary).

    `extra` objects are numbered from 4 + 2 * len(pages) on, for a font's own objects.
    """
    font = font or tex_like_font()
    objects: list[bytes] = [b"", b"", font]  # 1: catalog, 2: pages, 3: font
    kids = []
    for stream in pages:
        page_number = len(objects) + 1
        kids.append(b"%d 0 R" % page_number)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (PAGE_WIDTH, PAGE_HEIGHT, page_number + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.extend(extra or [])
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(pages)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_runs_pdf(path: Path, pages: list[list[Run]]) -> Path:
    path.write_bytes(write_pdf_bytes([content(runs) for runs in pages]))
    return path
