"""A page's lines in reading order, as paragraphs, with its footnotes kept apart.

Reading order: where a page has columns, a gutter (a vertical strip that no narrow line
crosses, with lines on both sides) parts them; lines that cross the gutter (a title, an
abstract, a page number) cut the page into bands, each band read column by column, the
columns themselves read the same way (so three columns, or columns inside a band, work too).
A page without a gutter is read top to bottom.

Footnotes: the lines at the foot of a column in a font smaller than the document's body font,
below a line of body text. They are moved after the page's body text as their own paragraphs,
so a footnote never lands inside the sentence it interrupts, and the footnote's mark is taken
out of that sentence ("plants.¹ He" reads "plants. He").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ingest.pdf_lines import Line, join_accents, split_line

NARROW = 0.6  # a line narrower than this share of its region may sit in a column
GUTTER_EM = 0.7  # a gutter is at least this many body font sizes wide
FOOTNOTE_SIZE = 0.9  # footnotes are set in a font at most this share of the body font
_LEADING_MARK = re.compile(r"^([0-9*\u2020\u2021\u00a7]{1,3})(?=\S)")


@dataclass
class PageText:
    body: list[str] = field(default_factory=list)  # paragraphs, lines joined by "\n"
    footnotes: list[str] = field(default_factory=list)

    def text(self) -> str:
        return "\n\n".join(self.body + self.footnotes)


def body_size(pages: Iterable[list[Line]]) -> float:
    """The document's body font size: the size most of its characters are set in."""
    sizes: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            sizes[round(line.size, 1)] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def page_text(lines: list[Line], body: float) -> PageText:
    """The page's text: body paragraphs in reading order, then its footnotes."""
    runs = [_split_footnotes(run, body) for run in columns(split_at_gutters(lines, body), body)]
    marks = {m.group(1) for _, notes in runs for note in notes if (m := _LEADING_MARK.match(note.text.lstrip()))}
    page = PageText()
    for text_lines, notes in runs:
        page.body.extend(_paragraphs([_without_marks(line, marks) for line in text_lines], body))
        page.footnotes.extend(_LEADING_MARK.sub(r"\1 ", note, count=1) for note in _paragraphs(notes, body, footnotes=True))
    return page


def split_at_gutters(lines: list[Line], body: float) -> list[Line]:
    """Lines cut where a gutter runs through them.

    pdfium joins runs of text on one baseline into one line, the two columns' lines too. A
    gutter is an x position where at least three lines have a wide gap (_wide_gaps), and at
    least a third of the lines reaching it do: the wide spaces of a loosely justified
    line do not line up from line to line.
    """
    for _ in range(4):  # up to five columns
        gaps = [(g0, g1, i, k) for i, line in enumerate(lines) for g0, g1, k in _wide_gaps(line, body)]
        if len(gaps) < 3:
            break
        events = sorted([(g0, 1) for g0, _, _, _ in gaps] + [(g1, -1) for _, g1, _, _ in gaps])
        count = best = 0
        where = 0.0
        for j, (x, step) in enumerate(events):
            count += step
            if count > best:
                best, where = count, (x + events[j + 1][0]) / 2
        crossing = sum(1 for line in lines if line.x0 < where < line.x1)
        if best < 3 or best < crossing / 3:
            break
        cut = {i: k for g0, g1, i, k in gaps if g0 < where < g1}
        split: list[Line] = []
        for i, line in enumerate(lines):
            split.extend(split_line(line, cut[i]) if i in cut else (line,))
        lines = split
    return lines


def _wide_gaps(line: Line, body: float) -> list[tuple[float, float, int]]:
    """Gaps between a line's words that may be a gutter: GUTTER_EM body sizes wide, and half as
    wide again as the line's usual space (a font's wide spaces do not make columns)."""
    gaps = [(line.words[k - 1][3], line.words[k][2], k) for k in range(1, len(line.words))]
    if not gaps:
        return []
    usual = sorted(g1 - g0 for g0, g1, _ in gaps)[len(gaps) // 2]
    return [(g0, g1, k) for g0, g1, k in gaps if g1 - g0 >= max(GUTTER_EM * body, 1.5 * usual)]


def columns(lines: list[Line], body: float) -> list[list[Line]]:
    """The page's lines as runs read top to bottom, the runs in reading order."""
    if len(lines) < 2:
        return [lines] if lines else []
    left, right = min(l.x0 for l in lines), max(l.x1 for l in lines)
    gutter = _gutter(lines, left, right, body)
    if gutter is None:
        return [_top_to_bottom(lines)]
    g0, g1 = gutter
    spanning = sorted((l for l in lines if l.x0 < g0 and l.x1 > g1), key=lambda l: -_middle(l))
    rest = [l for l in lines if not (l.x0 < g0 and l.x1 > g1)]
    runs: list[list[Line]] = []
    for i in range(len(spanning) + 1):
        upper = _middle(spanning[i - 1]) if i > 0 else float("inf")
        lower = _middle(spanning[i]) if i < len(spanning) else float("-inf")
        band = [l for l in rest if lower < _middle(l) <= upper]
        if band:
            runs.extend(columns([l for l in band if l.x1 <= g1], body))
            runs.extend(columns([l for l in band if l.x1 > g1], body))
        if i < len(spanning):
            if runs and runs[-1] and runs[-1][-1] in spanning:
                runs[-1].append(spanning[i])  # spanning lines in a row read as one run
            else:
                runs.append([spanning[i]])
    return runs


def _middle(line: Line) -> float:
    return (line.top + line.bottom) / 2


def _gutter(lines: list[Line], left: float, right: float, body: float) -> tuple[float, float] | None:
    """The widest vertical strip that (almost) no narrow line crosses, with enough text on both sides.

    A few lines may cross it (a centred page number, a short heading): they read as
    spanning lines.
    """
    width = right - left
    narrow = [l for l in lines if l.x1 - l.x0 < NARROW * width]
    if len(narrow) < 6:
        return None
    allowed = max(1, len(narrow) // 20)
    height = max(l.top for l in lines) - min(l.bottom for l in lines)
    events = sorted([(l.x0, 1) for l in narrow] + [(l.x1, -1) for l in narrow])
    best: tuple[float, float] | None = None
    count, opened = 0, None
    for x, step in events:
        before = count
        count += step
        if before > allowed >= count:
            opened = x
        elif before <= allowed < count and opened is not None:
            if x - opened >= GUTTER_EM * body and (best is None or x - opened > best[1] - best[0]):
                sides = ([l for l in narrow if l.x1 <= opened], [l for l in narrow if l.x0 >= x])
                if all(len(side) >= 3 and sum(l.height for l in side) >= 0.1 * height for side in sides):
                    best = (opened, x)
            opened = None
    return best


def _top_to_bottom(lines: list[Line]) -> list[Line]:
    """Lines sorted by height on the page; lines on one baseline left to right."""
    ordered = sorted(lines, key=lambda l: -_middle(l))
    rows: list[list[Line]] = []
    for line in ordered:
        if rows and abs(_middle(rows[-1][0]) - _middle(line)) < 0.3 * min(rows[-1][0].height, line.height):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda l: l.x0)]


def _split_footnotes(run: list[Line], body: float) -> tuple[list[Line], list[Line]]:
    """A run's lines, and the footnote lines at its foot (smaller font, below body text)."""
    k = len(run)
    while k > 0 and run[k - 1].size < FOOTNOTE_SIZE * body:
        k -= 1
    if k == len(run) or k == 0 or abs(run[k - 1].size - body) > 0.1 * body:
        return run, []
    return run[:k], run[k:]


def _paragraphs(lines: list[Line], body: float, footnotes: bool = False) -> list[str]:
    """Lines joined into paragraphs: a break at a gap, an indent, a change of font size."""
    paragraphs: list[list[str]] = []
    left = min((l.x0 for l in lines), default=0.0)
    previous: Line | None = None
    for line in lines:
        size = max(line.size, 1.0)
        new = previous is None
        if previous is not None:
            gap = previous.bottom - line.top
            resized = abs(line.size - previous.size) > 0.1 * size
            indented = line.x0 - left > 0.8 * size and line.x0 - previous.x0 > 0.8 * size
            # A footnote starts with its mark at the left edge.
            marked = footnotes and _LEADING_MARK.match(line.text.lstrip()) is not None
            new = gap > 0.6 * size or resized or indented or marked or line.top < previous.bottom - 3 * size
        if new:
            paragraphs.append([])
        paragraphs[-1].append(line.text.strip())
        previous = line
    return [join_accents("\n".join(p)) for p in paragraphs]


def _without_marks(line: Line, marks: set[str]) -> Line:
    """The line without the footnote marks (raised, smaller, after a word) of this page's footnotes."""
    drop = [(k, mark) for k, mark in line.marks if mark in marks]
    if not drop:
        return line
    text = line.text
    for k, mark in reversed(drop):
        text = text[:k] + text[k + len(mark):]
    return Line(text, line.x0, line.x1, line.bottom, line.top, line.size, [], [])
