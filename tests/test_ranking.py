from __future__ import annotations

import dataclasses
import math

import pytest
from haystack import Document

from pipeline.answers import Answer
from pipeline.normalize import normalize_answer
from pipeline.ranking import CONSTANTS, TERM_PASSAGES, Constants, WordCounts, question_words, rank, word_counts

# Round constants, so that every expected value below can be worked out by hand.
C = Constants(span=0.5, passage=0.5, support=5.0, calibration=2.0, per_passage=10, no_answer=0.0)


def passage(text, file="/a.txt", offset=0, score=None, page=None, pid=None):
    meta = {"file_path": file, "split_idx_start": offset, "page_number": page}
    return Document(id=pid or f"{file}:{offset}", content=text, meta=meta, score=score)


def answer(p, text, within, log_norm=0.0, occurrence=0):
    """A candidate whose probability within its passage is `within` (score = log_norm + log within)."""
    start = p.content.index(text) if occurrence == 0 else p.content.index(text, p.content.index(text) + 1)
    return Answer("q?", text, log_norm + math.log(within), within, p, start, start + len(text), log_norm)


def calibrated(share, kappa=C.calibration):
    return kappa * share / (1 + (kappa - 1) * share)


def test_normalize_answer_is_squads():
    assert normalize_answer("  The  Eiffel-Tower, (Paris)! ") == "eiffeltower paris"
    assert normalize_answer("An apple a day") == "apple day"


def test_same_text_in_several_files_is_one_answer_listing_all_sources():
    p1 = passage("It was Kestrel that came.", "/a.txt", page=None)
    p2 = passage("The engine Kestrel.", "/b.pdf", page=4)
    p3 = passage("Not this: Glasgow.", "/c.txt")
    ranking = rank("q?", [answer(p1, "Kestrel", 0.2), answer(p2, "Kestrel.", 0.25), answer(p3, "Glasgow", 0.3)], top_k=5, constants=C)
    assert [a.text for a in ranking.answers] == ["Kestrel.", "Glasgow"]
    first = ranking.answers[0]
    kestrel, glasgow = 0.2**0.5 + 0.25**0.5, 0.3**0.5  # p(a|d) ** span, summed over the passages that agree
    assert first.probability == pytest.approx(kestrel / (kestrel + glasgow))
    assert first.score == pytest.approx(calibrated(kestrel / (kestrel + glasgow)))
    assert [(s.file, s.page) for s in first.sources] == [("/b.pdf", 4), ("/a.txt", None)]


def test_agreement_of_two_passages_beats_one_more_confident_passage():
    p1, p2, p3 = passage("Kestrel.", "/a.txt"), passage("Kestrel!", "/b.txt"), passage("Glasgow.", "/c.txt")
    answers = [answer(p1, "Kestrel", 0.3), answer(p2, "Kestrel", 0.3), answer(p3, "Glasgow", 0.5)]
    ranked = rank("q?", answers, top_k=2, constants=C).answers
    assert [a.text for a in ranked] == ["Kestrel", "Glasgow"]
    assert ranked[1].probability == pytest.approx(0.5**0.5 / (2 * 0.3**0.5 + 0.5**0.5))


def test_same_location_through_overlapping_passages_counts_once():
    text = "alpha beta Kestrel gamma"
    first = passage(text, "/a.txt", offset=0)
    second = passage(text[6:], "/a.txt", offset=6)  # overlaps the first; Kestrel is at file offset 11 in both
    answers = [answer(first, "Kestrel", 0.3), answer(second, "Kestrel", 0.4), answer(first, "gamma", 0.1)]
    kestrel, gamma = rank("q?", answers, top_k=5, constants=C).answers
    assert kestrel.probability == pytest.approx(0.4**0.5 / (0.4**0.5 + 0.1**0.5))  # its best sighting, not both
    assert len(kestrel.sources) == 1 and kestrel.best.passage_id == second.id


def test_retrieval_score_weighs_each_bm25_point():
    p1 = passage("Answer one here.", "/a.txt", score=10.0)
    p2 = passage("Answer two here.", "/b.txt", score=2.5)
    answers = [answer(p1, "one", 0.2), answer(p2, "two", 0.3)]
    assert [a.text for a in rank("q?", answers, top_k=2, retrieval_weight=0.0, constants=C).answers] == ["two", "one"]
    one, two = rank("q?", answers, top_k=2, retrieval_weight=0.2, constants=C).answers
    w_one, w_two = 0.2**0.5, 0.3**0.5 * math.exp(-0.2 * 7.5)
    assert (one.text, one.probability) == ("one", pytest.approx(w_one / (w_one + w_two)))
    assert two.score == pytest.approx(calibrated(w_two / (w_one + w_two)))


def test_passage_evidence_is_the_standardised_log_normaliser():
    # Z = 3, 1, 2 over the three passages read: mean 2, standard deviation sqrt(2/3).
    p1, p2, p3 = passage("It is one.", "/a.txt"), passage("It is two.", "/b.txt"), passage("It is three.", "/c.txt")
    answers = [answer(p1, "one", 0.2, log_norm=3.0), answer(p2, "two", 0.3, log_norm=1.0), answer(p3, "three", 0.25, log_norm=2.0)]
    sd = math.sqrt(2 / 3)
    w = {"one": 0.2**0.5 * math.exp(0.5 * 1 / sd), "two": 0.3**0.5 * math.exp(-0.5 * 1 / sd), "three": 0.25**0.5}
    ranked = rank("q?", answers, top_k=3, constants=C).answers
    assert [a.text for a in ranked] == ["one", "three", "two"]
    assert [a.probability for a in ranked] == pytest.approx([w[a.text] / sum(w.values()) for a in ranked])
    # The weight is per standard deviation: the model's logit scale does not change it.
    doubled = [answer(p1, "one", 0.2, log_norm=6.0), answer(p2, "two", 0.3, log_norm=2.0), answer(p3, "three", 0.25, log_norm=4.0)]
    assert [a.probability for a in rank("q?", doubled, top_k=3, constants=C).answers] == pytest.approx([a.probability for a in ranked])


def test_lexical_support_the_sentence_that_restates_the_question():
    p = passage("Ada built the engine Kestrel in 1920. Glasgow is a city.")
    question = "Which engine did Ada build?"  # words searched: engin, ada, build (stemmed; which, did are stopwords)
    answers = [answer(p, "Kestrel", 0.2), answer(p, "Glasgow", 0.3), answer(p, "Ada", 0.1)]
    ranked = rank(question, answers, top_k=3, constants=C).answers
    # One passage read: idf = log(1 + 1 / (1 + df)); "ada" and "engin" are in it, "build" is not ("built").
    support = 2 * math.log(1.5) / (2 * math.log(1.5) + math.log(2))
    w = {"Kestrel": 0.2**0.5 * math.exp(5 * support), "Glasgow": 0.3**0.5, "Ada": 0.1**0.5 * math.exp(5 * math.log(1.5) / (2 * math.log(1.5) + math.log(2)))}
    assert [a.text for a in ranked] == ["Kestrel", "Ada", "Glasgow"]  # the span's own words do not support it
    assert [a.probability for a in ranked] == pytest.approx([w[a.text] / sum(w.values()) for a in ranked])


def test_the_question_words_are_weighed_by_the_passages_retrieved_however_many_are_read():
    question = "Which engine did Ada build?"
    assert question_words(question) == ["engin", "ada", "build"]
    p = passage("Ada built the engine Kestrel in 1920. Glasgow is a city.", "/a.txt", score=9.0)
    others = [passage(f"The engine {i} ran." if i % 2 else f"Ada's note {i}.", f"/n{i}.txt", score=8.0 - i / 10) for i in range(30)]
    # Counted in the first TERM_PASSAGES (20) retrieved: p, then 19 others ("engine" in 9, "Ada" in 10).
    counts = word_counts(question, [p] + others)
    assert TERM_PASSAGES == 20 and counts == WordCounts(20, {"engin": 10, "ada": 11, "build": 0})
    idf = {"engin": math.log(1 + 20 / 11), "ada": math.log(1 + 20 / 12), "build": math.log(1 + 20)}
    total = sum(idf.values())
    answers = [answer(p, "Kestrel", 0.2), answer(p, "Glasgow", 0.3), answer(p, "Ada", 0.1)]
    w = {
        "Kestrel": 0.2**0.5 * math.exp(5 * (idf["ada"] + idf["engin"]) / total),  # the sentence around it: Ada, engine
        "Glasgow": 0.3**0.5,
        "Ada": 0.1**0.5 * math.exp(5 * idf["engin"] / total),  # the span's own words do not support it
    }
    ranked = rank(question, answers, top_k=3, constants=C, counts=counts).answers
    assert [a.text for a in ranked] == ["Kestrel", "Ada", "Glasgow"]
    assert [a.probability for a in ranked] == pytest.approx([w[a.text] / sum(w.values()) for a in ranked])
    # Another passage read changes the shares by its own evidence only: Kestrel and Ada keep their ratio.
    more = rank(question, answers + [answer(others[0], "Ada", 0.5)], top_k=3, constants=C, counts=counts).answers
    by_text = {a.text: a.probability for a in more}
    assert by_text["Kestrel"] / by_text["Glasgow"] == pytest.approx(w["Kestrel"] / w["Glasgow"])
    # Without counts, the words are counted in the answers' passages, best retrieval score first.
    assert rank(question, answers, top_k=3, constants=C) == rank(question, answers, top_k=3, constants=C, counts=word_counts(question, [p]))


def test_only_the_best_candidates_of_each_passage_count():
    p1, p2 = passage("Kestrel or Glasgow.", "/a.txt"), passage("Glasgow.", "/b.txt")
    answers = [answer(p1, "Kestrel", 0.5), answer(p1, "Glasgow", 0.4), answer(p2, "Glasgow", 0.3)]
    one = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, per_passage=1)).answers
    assert [(a.text, a.probability) for a in one] == [("Kestrel", pytest.approx(0.5**0.5 / (0.5**0.5 + 0.3**0.5))), ("Glasgow", pytest.approx(0.3**0.5 / (0.5**0.5 + 0.3**0.5)))]
    two = rank("q?", answers, top_k=2, constants=C).answers
    assert [a.text for a in two] == ["Glasgow", "Kestrel"]


def test_one_candidate_alone_is_certain_and_calibration_maps_the_odds():
    p = passage("Only Kestrel.")
    [only] = rank("q?", [answer(p, "Kestrel", 0.01)], top_k=5, constants=C).answers
    assert only.probability == 1.0 and only.score == 1.0
    q = passage("Kestrel or Glasgow.")
    answers = [answer(q, "Kestrel", 0.64), answer(q, "Glasgow", 0.16)]  # shares 0.8 / 0.2 before calibration
    plain = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, calibration=1.0)).answers
    assert [a.score for a in plain] == pytest.approx([2 / 3, 1 / 3])  # sqrt(0.64) : sqrt(0.16) = 2 : 1
    odds = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, calibration=3.0)).answers
    assert [a.score for a in odds] == pytest.approx([6 / 7, 3 / 5])  # odds 2 -> 6 and 1/2 -> 3/2


def test_min_score_gives_no_answer_and_candidates():
    # Four passages, four different answers: no agreement, no answer.
    ps = [passage(f"It is {w}.", f"/{w}.txt") for w in ("Kestrel", "Glasgow", "Leeds", "York")]
    answers = [answer(p, w, pr) for p, w, pr in zip(ps, ("Kestrel", "Glasgow", "Leeds", "York"), (0.36, 0.25, 0.16, 0.09))]
    ranking = rank("q?", answers, top_k=3, min_score=0.6, constants=C)
    assert not ranking.found and ranking.answers == []
    assert [c.text for c in ranking.candidates] == ["Kestrel", "Glasgow", "Leeds"]
    shares = [w / 1.8 for w in (0.6, 0.5, 0.4)]  # p(a|d) ** 0.5: 0.6 + 0.5 + 0.4 + 0.3 = 1.8
    assert [c.score for c in ranking.candidates] == pytest.approx([calibrated(s) for s in shares])  # 0.5, 0.43, 0.36
    assert [a.text for a in rank("q?", answers, top_k=3, min_score=0.45, constants=C).answers] == ["Kestrel"]
    assert rank("q?", [], top_k=1) == rank("q?", [], top_k=1, min_score=0.9)
    assert not rank("q?", [], top_k=1).found and rank("q?", [], top_k=1).candidates == []


def test_no_answer_evidence_keeps_scattered_answers_below_min_score():
    # Evidence sums: pi = (0.5, 0.5) without retrieval scores or Z spread; p ** 0.5 = 0.6 and 0.5.
    p1, p2 = passage("It is Kestrel.", "/a.txt"), passage("It is Glasgow.", "/b.txt")
    scattered = [answer(p1, "Kestrel", 0.36), answer(p2, "Glasgow", 0.25)]
    null = dataclasses.replace(C, no_answer=1.0)
    kestrel, glasgow = rank("q?", scattered, top_k=2, constants=null).answers
    assert kestrel.probability == pytest.approx(0.3 / (0.3 + 0.25 + 1.0))
    assert glasgow.score == pytest.approx(calibrated(0.25 / 1.55))
    assert not rank("q?", scattered, top_k=2, min_score=0.35, constants=null).found  # scores 0.32 and 0.28
    # The same passages agreeing on one answer whose sentence restates the question stand out.
    p3, p4 = passage("Kestrel was the engine Ada built.", "/c.txt"), passage("Ada built the engine Kestrel.", "/d.txt")
    agreeing = [answer(p3, "Kestrel", 0.36), answer(p4, "Kestrel", 0.25)]
    [found] = rank("Which engine did Ada build?", agreeing, top_k=2, min_score=0.35, constants=null).answers
    support = 2 * math.log(1 + 2 / 3) / (2 * math.log(1 + 2 / 3) + math.log(1 + 2 / 1))  # ada, engin in both; build in neither
    evidence = (0.5 * 0.6 + 0.5 * 0.5) * math.exp(5 * support)
    assert found.probability == pytest.approx(evidence / (evidence + 1.0))


def test_a_score_above_the_passage_normaliser_counts_as_certain_within_it():
    # Answers built without the reader's log-normaliser (0) must not get p(a|d) > 1.
    p = passage("Kestrel or Glasgow.")
    answers = [Answer("q?", "Kestrel", 3.0, 1.0, p, 0, 7), Answer("q?", "Glasgow", 5.0, 1.0, p, 11, 18)]
    ranked = rank("q?", answers, top_k=2, constants=C).answers
    assert [a.probability for a in ranked] == pytest.approx([0.5, 0.5])


def test_context_snippet_around_the_answer():
    text = "word " * 100 + "Kestrel" + " word" * 100
    p = passage(text)
    [ranked] = rank("q?", [answer(p, "Kestrel", 0.5)], top_k=1, context_chars=40).answers
    source = ranked.best
    assert source.context == "word word word word Kestrel word word word word"
    assert source.context[source.start - source.context_start : source.end - source.context_start] == "Kestrel"


def test_default_constants_are_valid_and_bad_settings_are_refused():
    assert CONSTANTS.per_passage >= 1
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        rank("q?", [], top_k=0)
    with pytest.raises(ValueError, match=r"^retrieval_weight must be >= 0, got -1$"):
        rank("q?", [], top_k=1, retrieval_weight=-1)
    with pytest.raises(ValueError, match=r"^min_score must be within \[0, 1\], got 2$"):
        rank("q?", [], top_k=1, min_score=2)
    with pytest.raises(ValueError, match=r"^per_passage must be >= 1, got 0$"):
        Constants(per_passage=0)


def test_reader_keeps_every_passage_best_candidates_for_the_ranking():
    from pipeline.reader.reader import _answers, _Candidate

    a, b = Document(content="aaaa bbbb cccc"), Document(content="dddd eeee")
    pairs = [(0, a), (0, b)]
    candidates = [_Candidate(0, 0, 4, 5.0), _Candidate(0, 5, 9, 4.0), _Candidate(0, 10, 14, 3.0), _Candidate(1, 0, 4, 1.0), _Candidate(1, 5, 9, 0.0)]
    [answers] = _answers(["q?"], pairs, candidates, {0: [6.0], 1: [2.0]}, top_k=4)
    # Round one: each passage's best (aaaa, dddd); round two: each passage's second (bbbb, eeee).
    # Cutting by raw score alone would have kept cccc and dropped eeee.
    assert [x.text for x in answers] == ["aaaa", "bbbb", "dddd", "eeee"]
    log_z = math.log(math.exp(6.0) + math.exp(2.0))
    assert [x.probability for x in answers] == pytest.approx([math.exp(s - log_z) for s in (5.0, 4.0, 1.0, 0.0)])
    assert [x.passage_log_norm for x in answers] == [6.0, 6.0, 2.0, 2.0]
