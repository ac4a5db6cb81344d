"""store.exact_top on hand-built candidates: the bounds, ties and what is read."""

import math
from typing import NamedTuple

from store.exact_top import K1, B, Statistics, exact_top, stored_length

STATISTICS = Statistics(passages=100, average_length=100.0, frequencies={"x": 10})
WEIGHT = math.log(1 + (100 - 10 + 0.5) / (10 + 0.5))


class Candidate(NamedTuple):
    pk: int
    score: float
    length: int


def bm25(tf: int, length: int) -> float:
    return WEIGHT * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / STATISTICS.average_length))


def text(tf: int, length: int) -> str:
    return " ".join(["x"] * tf + ["zz"] * (length - tf))


# C: 134 terms, stored as 128 by tantivy, which scores it above its exact BM25.
C_TANTIVY, C_EXACT = bm25(2, stored_length(134)), bm25(2, 134)
TEXTS = {1: text(5, 20), 2: text(2, 134), 3: "x", 4: "x"}


def test_a_passage_rounded_up_by_tantivy_is_placed_by_its_exact_score_and_ties_go_in_tantivys_order():
    assert stored_length(134) == 128 and C_EXACT < C_TANTIVY
    # Two copies of one passage tie between C's exact score and tantivy's: C is above both,
    # and of the two only the first (tantivy's order) is in the top 3.
    tie = C_EXACT - 0.01
    hits = [Candidate(1, 10.0, 20), Candidate(2, C_TANTIVY, 134), Candidate(3, tie, 30), Candidate(4, tie, 30)]
    read = []
    best = exact_top(hits, 3, None, STATISTICS, lambda pks: read.append(pks) or {pk: TEXTS[pk] for pk in pks})
    assert [h.pk for h in best] == [1, 2, 3]
    assert read == [[2]]  # only the text of the one in doubt whose length tantivy rounds


def test_below_the_copies_c_is_out():
    tie = C_EXACT + 0.01  # now both copies score more than C, which tantivy ranks first
    hits = [Candidate(1, 10.0, 20), Candidate(2, C_TANTIVY, 134), Candidate(3, tie, 30), Candidate(4, tie, 30)]
    assert [h.pk for h in exact_top(hits, 3, None, STATISTICS, lambda pks: {pk: TEXTS[pk] for pk in pks})] == [1, 3, 4]


def test_passages_whose_bounds_decide_are_not_read():
    hits = [Candidate(1, 10.0, 20), Candidate(2, 9.0, 134), Candidate(3, 1.0, 30)]
    assert [h.pk for h in exact_top(hits, 2, 0.5, STATISTICS, lambda pks: 1 / 0)] == [1, 2]


def test_a_passage_not_among_the_candidates_that_might_be_in_asks_for_more():
    hits = [Candidate(1, 10.0, 20), Candidate(2, C_TANTIVY, 134), Candidate(3, 1.0, 30)]
    # Anything not among them scores at most C_EXACT - 0.001 by tantivy: it might beat C's
    # lower bound, so the caller must look further.
    assert exact_top(hits, 2, C_EXACT - 0.001, STATISTICS, lambda pks: {}) is None
    assert [h.pk for h in exact_top(hits, 2, 1.0, STATISTICS, lambda pks: {})] == [1, 2]
    assert exact_top(hits[:1], 2, 1.0, STATISTICS, lambda pks: {}) is None  # fewer than top_k, more may exist
    assert exact_top(hits[:1], 2, None, STATISTICS, lambda pks: {}) == hits[:1]


def test_a_passage_deleted_meanwhile_is_left_out():
    tie = C_EXACT - 0.01
    hits = [Candidate(1, 10.0, 20), Candidate(2, C_TANTIVY, 134), Candidate(3, tie, 30), Candidate(4, tie, 30)]
    texts = {pk: TEXTS[pk] for pk in (1, 3, 4)}  # 2 is gone
    assert [h.pk for h in exact_top(hits, 3, None, STATISTICS, lambda pks: texts)] == [1, 3, 4]


def test_at_most_rescore_most_x_top_k_are_scored_again(monkeypatch):
    # Ten passages alike (ties all the way down): each is in doubt; 2 x top_k are read and
    # scored again, the rest taken at their lower bound; the ties go in tantivy's order.
    from store.exact_top import RESCORE_MOST

    from store import exact_top as module

    hits = [Candidate(pk, C_TANTIVY, 134) for pk in range(10)]
    read, scored = [], []
    real_stems = module.stems
    monkeypatch.setattr(module, "stems", lambda tokens: scored.append(len(tokens)) or real_stems(tokens))
    best = exact_top(hits, 3, None, STATISTICS, lambda pks: read.append(pks) or {pk: text(2, 134) for pk in pks})
    assert [h.pk for h in best] == [0, 1, 2]
    assert read == [[0, 1, 2, 3, 4, 5, 6, 7]]  # read 8 at a time
    assert RESCORE_MOST == 2 and scored.count(134) == 6  # (the other call stems the 8's new words at once)


def test_a_passage_past_the_candidates_is_ruled_out_by_the_exact_scores_of_those_kept():
    hits = [Candidate(2, C_TANTIVY, 134), Candidate(3, 1.0, 30)]
    lower = C_TANTIVY * (1 + K1 * (1 - B + B * 128 / 100)) / (1 + K1 * (1 - B + B * 134 / 100))
    assert lower < C_EXACT < C_TANTIVY
    read = []
    # Anything else scores at most `beyond` by tantivy: above C's bound, below its exact score.
    best = exact_top(hits, 1, (lower + C_EXACT) / 2, STATISTICS, lambda pks: read.append(pks) or {pk: TEXTS[pk] for pk in pks})
    assert [h.pk for h in best] == [2] and read == [[2]]
    assert exact_top(hits, 1, C_EXACT + 0.001, STATISTICS, lambda pks: {pk: TEXTS[pk] for pk in pks}) is None
