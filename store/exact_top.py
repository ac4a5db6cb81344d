"""Which of tantivy's candidates are BM25's exact top k.

tantivy keeps a passage's length in one byte (its fieldnorm, Lucene's SmallFloat code:
FIELD_NORMS_TABLE of src/fieldnorm/code.rs): exactly up to 40 terms, then rounded down to
the next value of LENGTHS, less than 1/8 below the length. A shorter length only raises a
word's BM25, so tantivy's score of a longer passage is an upper bound of its exact BM25,
and the exact score is at least tantivy's x (1 + K(stored)) / (1 + K(length)), K being
BM25's length factor (a word that occurs once loses the most). A passage whose bounds
already put it in or out of the top k is left as it is; only the ones in between are scored
again, from their text, split by store.terms as the index split it, in tantivy's order
until the rest cannot take a place: for SQuAD questions a median of 4, 8 and 10 passages at
10k, 100k and 1M passages (BENCHMARKS.md), a few passages' tokenizing, not the top k's.

The set is exact (but see RESCORE_MOST); its order and scores stay tantivy's (a passage
scored again keeps its place).
"""

from __future__ import annotations

import bisect
import collections
import math
from collections.abc import Callable
from typing import NamedTuple, Protocol, TypeVar

from store.terms import stems, words

# tantivy's BM25 constants.
K1, B = 1.2, 0.75
EXACT_LENGTHS = 40  # lengths tantivy stores exactly
# At most this many x top_k passages are scored again from their text for one question
# (25 us each once their words were seen, 100 in a fresh process); past that, a passage in
# doubt is taken at its lower bound, its exact score when its words occur once. It bounds the
# time where hundreds of passages score alike (a question of common words): at 100k and 1M
# passages 6 SQuAD questions in 300 then differ from the exact top 20 by a few passages each,
# at 10k and on the public half none (BENCHMARKS.md); without it, p99 42 ms instead of 10 at 100k.
RESCORE_MOST = 2


def _tantivy_lengths() -> list[int]:
    """0 to 40, then 8 steps of 2, 8 of 4, 8 of 8, ... (256 values)."""
    table = list(range(EXACT_LENGTHS + 1))
    step = 2
    while len(table) < 256:
        last = table[-1]
        table.extend(last + step * i for i in range(1, 9))
        step *= 2
    return table[:256]


LENGTHS = _tantivy_lengths()


class Candidate(Protocol):
    """What store.search_index.Hit gives: tantivy's score and the passage's exact length."""

    @property
    def pk(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def length(self) -> int: ...


C = TypeVar("C", bound=Candidate)


class Statistics(NamedTuple):
    """tantivy's own BM25 statistics for one question."""

    passages: float  # N
    average_length: float  # avgdl, in terms
    frequencies: dict[str, int]  # passages holding each stem of the question


def stored_length(length: int) -> int:
    """The length tantivy's BM25 uses for a passage of `length` terms."""
    return length if length <= EXACT_LENGTHS else LENGTHS[bisect.bisect_right(LENGTHS, length) - 1]


def exact_top(
    hits: list[C], top_k: int, beyond: float | None, statistics: Statistics, texts: Callable[[list[int]], dict[int, str]]
) -> list[C] | None:
    """The `top_k` of `hits` (tantivy's, best first) with the highest BM25 under exact lengths,
    in tantivy's order; None when a passage that is not among `hits`, whose tantivy score is at
    most `beyond` (None: no other passage can be), might be among them.

    `texts(pks)` gives the passages' texts, asked for those it scores again, a few at a time;
    a pk missing from its answer was deleted meanwhile and is left out (a passage surely in
    is returned unread: the caller reads what it returns).
    """
    if len(hits) < top_k:
        return hits if beyond is None else None
    average = statistics.average_length

    def factor(length: float) -> float:
        return K1 * (1 - B + B * length / average)

    # (Equal scores are ties, which tantivy's order breaks, as it does for its own top k.)
    upper = [hit.score for hit in hits]
    lower = [
        hit.score if stored_length(hit.length) == hit.length else hit.score * (1 + factor(stored_length(hit.length))) / (1 + factor(hit.length))
        for hit in hits
    ]  # (a length tantivy stores exactly gives its score as is, not rounded through a ratio of 1)
    threshold = sorted(lower, reverse=True)[top_k - 1]
    if beyond is not None and beyond > threshold:
        return None
    # Below the threshold: top_k passages surely score more. In: fewer than top_k others can
    # score as much (a tie is not sure: it is decided below, in tantivy's order).
    band = [i for i in range(len(hits)) if upper[i] >= threshold]
    if len(band) == top_k:
        return [hits[i] for i in band]
    uppers = sorted(upper)
    sure = {i for i in band if len(uppers) - bisect.bisect_left(uppers, lower[i]) - 1 < top_k}
    slots = top_k - len(sure)
    weights = {
        stem: math.log(1 + (statistics.passages - n + 0.5) / (n + 0.5)) for stem, n in statistics.frequencies.items() if n
    }
    # The others in tantivy's order, which is their upper bounds' order: once the next one's
    # upper bound is no more than the slots-th best exact score, none after it can take a slot.
    doubtful = [i for i in band if i not in sure]
    exact: dict[int, float] = {}
    best: list[float] = []  # the exact scores so far, ascending
    found: dict[int, list[str]] = {}  # the words of those read
    read = rescored = 0
    chunk = 8
    for n, i in enumerate(doubtful):
        if slots <= 0 or (len(best) >= slots and upper[i] <= best[-slots]):
            break
        hit = hits[i]
        if stored_length(hit.length) == hit.length:
            score = hit.score
        elif rescored >= RESCORE_MOST * top_k:
            score = lower[i]  # past the bound on the work: exact for a word that occurs once (see RESCORE_MOST)
        else:
            if n >= read:
                # This one and those it will likely score next, in one read (8, then 16, ...);
                # the words this process has not stemmed before, in one call to FTS5.
                ahead = doubtful[n : n + chunk]
                new = {pk: words(text) for pk, text in texts([hits[j].pk for j in ahead if stored_length(hits[j].length) != hits[j].length]).items()}
                stems(list(set().union(*new.values())))
                found.update(new)
                read, chunk = n + len(ahead), 2 * chunk
            if hit.pk not in found:
                continue  # deleted meanwhile
            counts = collections.Counter(stems(found[hit.pk]))
            norm = factor(hit.length)
            score = sum(weight * counts[stem] * (K1 + 1) / (counts[stem] + norm) for stem, weight in weights.items() if counts[stem])
            rescored += 1
        exact[i] = score
        bisect.insort(best, score)
    kept = list(sure)
    kept += sorted(exact, key=lambda i: (-exact[i], i))[: max(0, top_k - len(kept))]
    return [hits[i] for i in sorted(kept)[:top_k]]
