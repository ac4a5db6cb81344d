"""Light cleaning of extracted text.

The cleaned text is what docqa stores and what every offset indexes, so cleaning happens
once, before splitting, and nothing downstream changes the text again.
"""

from __future__ import annotations

import re

# Typographic ligatures that PDF text extraction often returns as one character; expanding
# them lets "ﬁnd" match the query "find". The soft hyphen is invisible in print.
_CHARACTERS = str.maketrans(
    {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st", "\ufb06": "st", "\u00ad": ""}
)
# Control characters other than tab and newline (a form feed inside a page is just space).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A letter, a hyphen at the end of a line, then a letter: "docu-\nment" -> "document" when
# the next letter is lower-case, "Franco-\nPrussian" -> "Franco-Prussian" when it is not.
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-[ \t]*\n\s*(?=([^\W\d_]))")
_PARAGRAPH = re.compile(r"\s*\n\s*\n\s*")
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """Join hyphenated line breaks, keep paragraph breaks as one blank line, collapse other whitespace."""
    text = _CONTROL.sub(" ", text.translate(_CHARACTERS))
    text = _HYPHENATED.sub(lambda m: "" if m.group(1).islower() else "-", text)
    paragraphs = (_SPACE.sub(" ", p).strip() for p in _PARAGRAPH.split(text))
    return "\n\n".join(p for p in paragraphs if p)
