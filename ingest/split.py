"""Split cleaned text into overlapping passages of about `length` words.

Passages end on a sentence boundary when one lies near the target length, and every passage
is an exact slice of the text: `text[s.start:s.start + len(s.text)] == s.text`.

Haystack's DocumentSplitter records the same offsets, but its sentence-aware modes need
NLTK's punkt data, which is downloaded at run time; this splitter needs no data files.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

from ingest.converted import PAGE_BREAK

_WORD = re.compile(r"\S+")
# A word that ends a sentence: terminal punctuation, optionally followed by closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?][\"'\u201d\u2019)\]]*$")
# Words ending in "." that rarely end a sentence.
_ABBREVIATIONS = frozenset(
    "mr. mrs. ms. dr. prof. st. vs. etc. e.g. i.e. cf. fig. no. vol. pp. p. ca. approx. jr. sr. inc. ltd. co.".split()
)


@dataclass(frozen=True)
class Split:
    text: str
    start: int  # character offset of the passage in the text it was cut from


def split_text(text: str, length: int, overlap: int) -> list[Split]:
    """Cut `text` into passages of about `length` words, consecutive ones sharing `overlap` words.

    A passage ends at the sentence end nearest to `length` words within [0.75, 1.1] x length,
    else after exactly `length` words; a remainder of up to 1.25 x length words stays whole,
    so no passage is a tiny tail. Never returns an empty passage.
    """
    return list(split_stream([text], length, overlap))


def split_stream(pieces: Iterable[str], length: int, overlap: int) -> Iterator[Split]:
    """split_text() of the pieces joined, holding only the passage being cut in memory.

    A passage is cut as soon as enough words follow it to decide exactly as split_text
    would: past its longest possible end, plus one word whose gap tells a paragraph break.
    """
    if length < 1:
        raise ValueError(f"split_length must be >= 1, got {length}")
    if not 0 <= overlap < length:
        raise ValueError(f"split_overlap must be >= 0 and < split_length ({length}), got {overlap}")
    lookahead = length + length // 4 + 1
    buffer, base = "", 0  # buffer holds the text from offset `base` on
    for piece in pieces:
        buffer += piece
        words = [m.span() for m in _WORD.finditer(buffer)]
        # The last word may go on in the next piece, and the gap after it is unknown.
        if len(words) - 1 <= lookahead:
            continue
        first = yield from _cut(buffer, base, words, length, overlap, stop=len(words) - 1 - lookahead)
        keep = words[first][0]
        buffer, base = buffer[keep:], base + keep
    words = [m.span() for m in _WORD.finditer(buffer)]
    yield from _cut(buffer, base, words, length, overlap, stop=len(words))


def _cut(text: str, base: int, words: list[tuple[int, int]], length: int, overlap: int, stop: int) -> Generator[Split, None, int]:
    """Yield the passages of `text` that start before word `stop`; returns the word the next one starts at."""
    ends = [_ends_sentence(text, words, i) for i in range(len(words))]
    first = 0
    while first < stop:
        last = _choose_end(first, len(words), length, ends)
        start = words[first][0]
        yield Split(text[start : words[last - 1][1]], base + start)
        if last == len(words):
            return len(words)
        first = max(last - overlap, first + 1)
    return first


def _ends_sentence(text: str, words: list[tuple[int, int]], i: int) -> bool:
    start, end = words[i]
    if i + 1 < len(words):
        gap = text[end : words[i + 1][0]]
        if "\n\n" in gap or PAGE_BREAK in gap:
            return True  # paragraph or page break
    word = text[start:end]
    return bool(_SENTENCE_END.search(word)) and word.lower() not in _ABBREVIATIONS


def _choose_end(first: int, n: int, length: int, ends: list[bool]) -> int:
    """Index one past the last word of the passage that starts at word `first`."""
    if n - first <= length + length // 4:
        return n
    target = first + length
    lowest = first + max(1, length - length // 4)
    highest = min(n, first + length + length // 10)
    candidates = [k for k in range(lowest, highest + 1) if ends[k - 1]]
    if not candidates:
        return target
    return min(candidates, key=lambda k: (abs(k - target), k > target))


def page_numbers(text: str, starts: list[int]) -> list[int]:
    """1-based page of each offset in text whose pages are joined by form feeds."""
    breaks = [m.start() for m in re.finditer(PAGE_BREAK, text)]
    return [1 + bisect.bisect_right(breaks, s) for s in starts]
