"""Light cleaning of extracted text.

The cleaned text is what docqa stores and what every offset indexes, so cleaning happens
once, before splitting, and nothing downstream changes the text again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

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
# A whitespace run that is not one plain space (those stay as they are): only these go
# through _join(), a Python call each, which for every space of a text took most of the time.
_SPACE = re.compile(r"\s{2,}|[^\S ]")


# A whitespace run between two non-space characters, the first not a hyphen: cleaning
# turns it into "\n\n" or " " whatever lies on either side, so text can be cut there.
_SAFE_CUT = re.compile(r"(?<=[^\s-])\s+(?=\S)")
# A piece of a stream with no safe cut in it this long (no whitespace: junk, not prose) is
# cut anyway, so memory stays bounded; only there can the result differ from clean().
_MAX_PIECE = 8 * 1024 * 1024


def clean(text: str) -> str:
    """Join hyphenated line breaks, keep paragraph breaks as one blank line, collapse other whitespace."""
    return _clean_prepared(_prepare(text))


def clean_stream(chunks: Iterable[str]) -> Iterator[str]:
    """clean() for text that arrives in chunks: the pieces joined equal clean() of the chunks joined.

    For files too big to hold in memory. Each chunk is cleaned up to its last safe cut
    (see _SAFE_CUT); the rest waits for the next chunk.
    """
    buffer, joiner = "", ""
    for chunk in chunks:
        buffer += _prepare(chunk)
        cut = _last_safe_cut(buffer)
        if cut is None:
            if len(buffer) >= _MAX_PIECE:
                # Junk with nowhere to cut cleanly: cut it here, joining the two sides as they are.
                piece = _clean_prepared(buffer)
                if piece:
                    yield joiner + piece
                    joiner = ""
                buffer = ""
            continue
        end, resume = cut
        yield joiner + _clean_prepared(buffer[:end])
        joiner = _join(buffer[end:resume])
        buffer = buffer[resume:]
    rest = _clean_prepared(buffer)
    if rest:
        yield joiner + rest


def _prepare(text: str) -> str:
    # Character by character, so it can be applied to any chunk of a stream.
    return _CONTROL.sub(" ", text.translate(_CHARACTERS))


def _clean_prepared(text: str) -> str:
    text = _HYPHENATED.sub(lambda m: "" if m.group(1).islower() else "-", text)
    # One pass over whitespace runs; splitting on a paragraph pattern first (\s*\n\s*\n\s*)
    # backtracks quadratically on a long run of spaces, and a file of blank space would hang.
    return _SPACE.sub(lambda space: _join(space.group()), text).strip()


def _join(space: str) -> str:
    """What a whitespace run between two words becomes: a paragraph break or one space."""
    return "\n\n" if space.count("\n") >= 2 else " "


def _last_safe_cut(text: str) -> tuple[int, int] | None:
    """(start, end) of the last whitespace run in `text` where cleaning can be done in two parts."""
    for window in (4096, 262_144, len(text)):
        last = None
        for last in _SAFE_CUT.finditer(text, max(0, len(text) - window)):
            pass
        if last is not None:
            return last.start(), last.end()
        if window >= len(text):
            break
    return None
