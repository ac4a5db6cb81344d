"""What every converter returns, and the one error it raises for a file it cannot read.

Each kind of document has its converter module (ingest/pdf.py, ingest/text.py, ...);
ingest/convert.py picks one by the file's suffix. They share this vocabulary and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from store.errors import DocqaError

# Pages are joined by a form feed, so a passage's page is the number of form feeds before it plus one.
PAGE_BREAK = "\f"


class ConversionError(DocqaError):
    """The file cannot be turned into text; the message is the reason (and the fix, where there is one)."""


@dataclass(frozen=True)
class Converted:
    text: str  # cleaned text that offsets index; a paged document's pages joined by PAGE_BREAK
    pages: int | None  # page count of a paged document (PDF), None for text without pages
    warnings: list[str] = field(default_factory=list)
    # (start, end) of text set before a page break though printed after it: the rest of a
    # word hyphenated across the break, made whole on the page it starts on ("sta-" | "tion").
    # Its characters are on the next page, so an answer holding them names that page too.
    next_page_spans: list[tuple[int, int]] = field(default_factory=list)


def pages_of(text: str, first_page: int, next_page_spans: Iterable[Sequence[int]] = ()) -> list[int]:
    """The page of each character of `text`, a slice of a paged document's text that starts on `first_page`.

    Every form feed is one page further (a form feed `text` starts with is already counted in
    `first_page`: the page a passage starts on is the one after it), and a character of
    `next_page_spans` ((start, end) in `text`) is printed on the page after the next form feed.
    """
    pages, page = [], first_page
    for i, char in enumerate(text):
        pages.append(page)  # a form feed is the last character of its page
        if char == PAGE_BREAK and i > 0:
            page += 1
    for start, end in next_page_spans:
        for i in range(max(0, start), min(end, len(text))):
            pages[i] += 1
    return pages


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, short enough for a report."""
    return " ".join(str(exc).split())[:200] or "no details"


_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+")  # byte offsets, object numbers


def summarised(warnings: list[str]) -> list[str]:
    """Warnings that differ only in their numbers, once: "1415 warnings like: <the first>".

    A damaged or unusual PDF can make its reader warn once per glyph or object; the report
    says so once per file (`docqa -v index` shows every one).
    """
    groups: dict[str, list[str]] = {}
    for warning in warnings:
        groups.setdefault(_NUMBERS.sub("#", warning), []).append(warning)
    return [group[0] if len(group) == 1 else f"{len(group)} warnings like: {group[0]} (-v shows them all)" for group in groups.values()]
