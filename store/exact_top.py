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

    stored = [stored_length(hit.length) for hit in hits]

    def rounded(i: int) -> bool:
        return stored[i] != hits[i].length

    # (Equal scores are ties, which tantivy's order breaks, as it does for its own top k.)
    upper = [hit.score for hit in hits]
    lower = [hit.score * (1 + factor(stored[i])) / (1 + factor(hit.length)) if rounded(i) else hit.score for i, hit in enumerate(hits)]
    weights = {stem: math.log(1 + (statistics.passages - n + 0.5) / (n + 0.5)) for stem, n in statistics.frequencies.items() if n}
    found: dict[int, list[str]] = {}  # the words of the passages read

    def read(indexes: list[int]) -> None:
        """Reads the texts of those of `indexes` whose length tantivy rounds, in one go; the
        words this process has not stemmed before are stemmed in one call to FTS5."""
        wanted = [hits[j].pk for j in indexes if rounded(j) and hits[j].pk not in found]
        if not wanted:
            return
        new = {pk: words(text) for pk, text in texts(wanted).items()}
        stems(list(set().union(*new.values())))
        found.update(new)

    def exactly(i: int) -> float | None:
        """BM25 of hits[i] with its exact length (None: deleted meanwhile)."""
        if not rounded(i):
            return hits[i].score
        if hits[i].pk not in found:
            return None
        counts = collections.Counter(stems(found[hits[i].pk]))
        norm = factor(hits[i].length)
        return sum(weight * counts[stem] * (K1 + 1) / (counts[stem] + norm) for stem, weight in weights.items() if counts[stem])

    # Below the threshold: top_k passages surely score more. In: fewer than top_k others can
    # score as much (a tie is not sure: it is decided below, in tantivy's order).
    threshold = sorted(lower, reverse=True)[top_k - 1]
    band = [i for i in range(len(hits)) if upper[i] >= threshold]
    uppers = sorted(upper)
    sure = [i for i in band if len(uppers) - bisect.bisect_left(uppers, lower[i]) - 1 < top_k] if len(band) > top_k else band
    value = {i: lower[i] for i in sure}  # what each chosen passage scores at least
    # The others in tantivy's order, which is their upper bounds' order: once the next one's
    # upper bound is no more than the slots-th best exact score, none after it can take a slot.
    slots = top_k - len(sure)
    doubtful = [i for i in band if i not in value]
    exact: dict[int, float] = {}
    best: list[float] = []  # the exact scores so far, ascending
    looked = rescored = 0
    chunk = 8
    for n, i in enumerate(doubtful):
        if slots <= 0 or (len(best) >= slots and upper[i] <= best[-slots]):
            break
        if not rounded(i):
            score: float | None = upper[i]
        elif rescored >= RESCORE_MOST * top_k:
            score = lower[i]  # past the bound on the work: exact for a word that occurs once (see RESCORE_MOST)
        else:
            if n >= looked:
                # This one and those it will likely score next, in one read (8, then 16, ...).
                read(doubtful[n : n + chunk])
                looked, chunk = n + chunk, 2 * chunk
            score = exactly(i)
            rescored += 1
            if score is None:
                continue  # deleted meanwhile
        exact[i] = score
        bisect.insort(best, score)
    value.update((i, exact[i]) for i in sorted(exact, key=lambda i: (-exact[i], i))[: max(0, slots)])
    if beyond is not None and beyond > threshold and beyond > min(value.values()):
        # (At most the threshold, top_k of `hits` outscore every passage not among them.) Past
        # it, one of those might outscore a passage kept by its bound: the exact scores of
        # those kept may still settle it (cheaper than asking tantivy for more).
        unsure = [i for i in value if value[i] < beyond and rounded(i) and i not in exact]
        read(unsure)
        for i in unsure:
            score = exactly(i)
            if score is None:
                return None
            value[i] = score
        if beyond > min(value.values()):
            return None
    return [hits[i] for i in sorted(value)[:top_k]]
