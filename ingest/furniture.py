"""Page furniture (running heads and feet, page numbers), and hyphens at line ends: what a page's layout adds to its words.

Left out of passages, since a running head in the middle of a passage splits the sentence it
lands in and matches every question about the document's title. Works on lines of text, so
it serves pages read from a PDF's text layer (edge lines found by their place on the page)
and pages read by OCR (their first and last lines) alike.

A hyphen at a line's end is kept where the document itself writes the compound with one
("family-\noriented" reads "family-oriented" when "family" and "oriented" are words of the
document and "familyoriented" is not), so ingest/clean.py joins only words that TeX or a word
processor hyphenated ("docu-\nment" -> "document").

A line at a page's edge is furniture when the same line, numbers on their own aside ("Force 2", "Force 3"),
is at the same edge of other pages, or when it is the page's own number ("3", "Page 3 of 9",
"- iii -").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

EDGE_LINES = 2  # lines (or rows of lines) at each edge that may be furniture
_NUMBER = re.compile(r"(?<!\w)\d+(?!\w)")  # a number on its own: "Force 2", not "p1w0" or "B2B"
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-\u2013\u2014(\[]?\s*(\d{1,4}|[ivxlcdm]{1,7})\s*[-\u2013\u2014)\]]?(?:\s*(?:/|of)\s*\d{1,5})?$", re.IGNORECASE
)

Edges = tuple[Sequence[str], Sequence[str]]  # a page's top lines (downwards) and bottom lines (upwards)


def key(line: str) -> str:
    """A line as compared across pages: lower case, numbers as '#', spaces collapsed.

    Empty for a line with no letters and more than one number (a table's row of figures is
    not a running head; a lone number is judged by is_page_number).
    """
    compared = " ".join(_NUMBER.sub("#", line.lower()).split())
    if compared != "#" and not any(ch.isalpha() for ch in compared):
        return ""
    return compared


def is_page_number(line: str, page: int) -> bool:
    """`line` is only a page number, and (for a number in digits) the page's own, 1-based."""
    match = _PAGE_NUMBER.match(line.strip())
    if not match:
        return False
    number = match.group(1)
    return not number.isdigit() or int(number) == page


def furniture(pages: Sequence[Edges]) -> list[tuple[set[int], set[int]]]:
    """For each page, which of its top and bottom edge lines (by index) are furniture."""
    seen: Counter[tuple[int, str]] = Counter()
    for page in pages:
        for edge, lines in enumerate(page):
            for k in {key(line) for line in lines}:
                seen[(edge, k)] += 1
    # On at least three pages (two in a short document): a line that happens to open two
    # pages of a long one is not a running head.
    needed = 2 if len(pages) <= 4 else 3
    result = []
    for number, page in enumerate(pages, 1):
        drop: list[set[int]] = []
        for edge, lines in enumerate(page):
            drop.append({
                i for i, line in enumerate(lines)
                if (len(pages) > 1 and key(line) and seen[(edge, key(line))] >= needed) or is_page_number(line, number)
            })
        result.append((drop[0], drop[1]))
    return result


def text_edges(text: str) -> tuple[list[int], list[int]]:
    """Indexes (into text.split("\\n")) of the first and last non-empty lines of a page of plain text."""
    lines = text.split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return filled[:EDGE_LINES], list(reversed(filled[-EDGE_LINES:])) if filled else []


def without_furniture(text: str, top: list[int], bottom: list[int], drop: tuple[set[int], set[int]]) -> str:
    """A page of plain text (OCR's) without the edge lines `drop` names."""
    lines = text.split("\n")
    gone = {top[i] for i in drop[0]} | {bottom[i] for i in drop[1]}
    return "\n".join(line for i, line in enumerate(lines) if i not in gone)


# Each starts at a word's start ((?<!...)): tried at every letter of a long word, the search
# would take quadratic time, inside re, where the time limit's alarm cannot stop it.
_LINE_END_HYPHEN = re.compile(r"(?<![^\W\d_])([^\W\d_]+)-[ \t]*\n\s*(?=([^\W\d_]+))")
_BROKEN_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]+-[ \t]*\n\s*[^\W\d_]+")
_WORD = re.compile(r"[^\W\d_]+")


def keep_compound_hyphens(pages: list[str]) -> list[str]:
    """Pages with the line-end hyphens of compounds ("family-\noriented") joined as "family-oriented".

    Words are the document's own: a hyphen is kept when both halves are words elsewhere in
    it and the halves joined are not. Other line-end hyphens are left to ingest/clean.py.
    """
    words: Counter[str] = Counter()
    for page in pages:
        # Words as the document writes them whole: not the halves of words broken at line ends.
        words.update(w.lower() for w in _WORD.findall(_BROKEN_WORD.sub(" ", page)))

    def join(match: re.Match[str]) -> str:
        before, after = match.group(1).lower(), match.group(2).lower()
        if words[before + after] == 0 and words[before] > 0 and words[after] > 0:
            return match.group(1) + "-"
        return match.group(0)

    return [_LINE_END_HYPHEN.sub(join, page) for page in pages]
