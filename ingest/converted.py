"""What every converter returns, and the one error it raises for a file it cannot read.

Each kind of document has its converter module (ingest/pdf.py, ingest/text.py, ...);
ingest/convert.py picks one by the file's suffix. They share this vocabulary and nothing else.
"""

from __future__ import annotations

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


def one_line(exc: BaseException) -> str:
    """An exception's message on one line, short enough for a report."""
    return " ".join(str(exc).split())[:200] or "no details"
