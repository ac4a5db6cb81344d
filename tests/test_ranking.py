from __future__ import annotations

import dataclasses
import math

import pytest
from haystack import Document

from pipeline.answers import Answer
from pipeline.normalize import normalize_answer
from pipeline.ranking import CONSTANTS, TERM_PASSAGES, Constants, WordCounts, question_words, rank, word_counts

# Round constants, so that every expected value below can be worked out by hand.
C = Constants(
    span=0.5, passage=0.5, support=5.0, temperature=2.0, top_temperature=2.0, none_weight=1.0, per_passage=10, no_answer=0.0, overlap="merge", repeat_support=0.0
)


def passage(text, file="/a.txt", offset=0, score=None, page=None, pid=None):
    meta = {"file_path": file, "split_idx_start": offset, "page_number": page}
    return Document(id=pid or f"{file}:{offset}", content=text, meta=meta, score=score)


def answer(p, text, within, log_norm=0.0, occurrence=0):
    """A candidate whose probability within its passage is `within` (score = log_norm + log within)."""
    start = p.content.index(text) if occurrence == 0 else p.content.index(text, p.content.index(text) + 1)
    return Answer("q?", text, log_norm + math.log(within), within, p, start, start + len(text), log_norm)


def tempered(shares, rest=0.0, t=C.temperature):
    """The probabilities of answers with these shares of the evidence (the rest: of no answer listed)."""
    norm = sum(s**t for s in shares) + rest**t
    return [s**t / norm for s in shares]


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
    assert first.share == pytest.approx(kestrel / (kestrel + glasgow))
    assert [a.score for a in ranking.answers] == pytest.approx(tempered([kestrel, glasgow]))  # kestrel ** 2 / (kestrel ** 2 + glasgow ** 2)
    assert [(s.file, s.page) for s in first.sources] == [("/b.pdf", 4), ("/a.txt", None)]


def test_agreement_of_two_passages_beats_one_more_confident_passage():
    p1, p2, p3 = passage("Kestrel.", "/a.txt"), passage("Kestrel!", "/b.txt"), passage("Glasgow.", "/c.txt")
    answers = [answer(p1, "Kestrel", 0.3), answer(p2, "Kestrel", 0.3), answer(p3, "Glasgow", 0.5)]
    ranked = rank("q?", answers, top_k=2, constants=C).answers
    assert [a.text for a in ranked] == ["Kestrel", "Glasgow"]
    assert ranked[1].share == pytest.approx(0.5**0.5 / (2 * 0.3**0.5 + 0.5**0.5))


def test_same_location_through_overlapping_passages_counts_once():
    text = "alpha beta Kestrel gamma"
    first = passage(text, "/a.txt", offset=0)
    second = passage(text[6:], "/a.txt", offset=6)  # overlaps the first; Kestrel is at file offset 11 in both
    answers = [answer(first, "Kestrel", 0.3), answer(second, "Kestrel", 0.4), answer(first, "gamma", 0.1)]
    kestrel, gamma = rank("q?", answers, top_k=5, constants=C).answers
    assert kestrel.share == pytest.approx(0.4**0.5 / (0.4**0.5 + 0.1**0.5))  # its best sighting, not both
    assert len(kestrel.sources) == 1 and kestrel.best.passage_id == second.id


def test_retrieval_score_weighs_each_bm25_point():
    p1 = passage("Answer one here.", "/a.txt", score=10.0)
    p2 = passage("Answer two here.", "/b.txt", score=2.5)
    answers = [answer(p1, "one", 0.2), answer(p2, "two", 0.3)]
    assert [a.text for a in rank("q?", answers, top_k=2, retrieval_weight=0.0, constants=C).answers] == ["two", "one"]
    one, two = rank("q?", answers, top_k=2, retrieval_weight=0.2, constants=C).answers
    w_one, w_two = 0.2**0.5, 0.3**0.5 * math.exp(-0.2 * 7.5)
    assert (one.text, one.share) == ("one", pytest.approx(w_one / (w_one + w_two)))
    assert two.score == pytest.approx(tempered([w_one, w_two])[1])


def test_passage_evidence_is_the_standardised_log_normaliser():
    # Z = 3, 1, 2 over the three passages read: mean 2, standard deviation sqrt(2/3).
    p1, p2, p3 = passage("It is one.", "/a.txt"), passage("It is two.", "/b.txt"), passage("It is three.", "/c.txt")
    answers = [answer(p1, "one", 0.2, log_norm=3.0), answer(p2, "two", 0.3, log_norm=1.0), answer(p3, "three", 0.25, log_norm=2.0)]
    sd = math.sqrt(2 / 3)
    w = {"one": 0.2**0.5 * math.exp(0.5 * 1 / sd), "two": 0.3**0.5 * math.exp(-0.5 * 1 / sd), "three": 0.25**0.5}
    ranked = rank("q?", answers, top_k=3, constants=C).answers
    assert [a.text for a in ranked] == ["one", "three", "two"]
    assert [a.share for a in ranked] == pytest.approx([w[a.text] / sum(w.values()) for a in ranked])
    # The weight is per standard deviation: the model's logit scale does not change it.
    doubled = [answer(p1, "one", 0.2, log_norm=6.0), answer(p2, "two", 0.3, log_norm=2.0), answer(p3, "three", 0.25, log_norm=4.0)]
    assert [a.share for a in rank("q?", doubled, top_k=3, constants=C).answers] == pytest.approx([a.share for a in ranked])


def test_lexical_support_the_sentence_that_restates_the_question():
    p = passage("Ada built the engine Kestrel in 1920. Glasgow is a city.")
    question = "Which engine did Ada build?"  # words searched: engin, ada, build (stemmed; which, did are stopwords)
    answers = [answer(p, "Kestrel", 0.2), answer(p, "Glasgow", 0.3), answer(p, "Ada", 0.1)]
    ranked = rank(question, answers, top_k=3, constants=C).answers
    # One passage read: idf = log(1 + 1 / (1 + df)); "ada" and "engin" are in it, "build" is not ("built").
    support = 2 * math.log(1.5) / (2 * math.log(1.5) + math.log(2))
    w = {"Kestrel": 0.2**0.5 * math.exp(5 * support), "Glasgow": 0.3**0.5, "Ada": 0.1**0.5 * math.exp(5 * math.log(1.5) / (2 * math.log(1.5) + math.log(2)))}
    assert [a.text for a in ranked] == ["Kestrel", "Ada", "Glasgow"]  # the span's own words do not support it
    assert [a.share for a in ranked] == pytest.approx([w[a.text] / sum(w.values()) for a in ranked])


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
    assert [a.share for a in ranked] == pytest.approx([w[a.text] / sum(w.values()) for a in ranked])
    # Another passage read changes the shares by its own evidence only: Kestrel and Ada keep their ratio.
    more = rank(question, answers + [answer(others[0], "Ada", 0.5)], top_k=3, constants=C, counts=counts).answers
    by_text = {a.text: a.share for a in more}
    assert by_text["Kestrel"] / by_text["Glasgow"] == pytest.approx(w["Kestrel"] / w["Glasgow"])
    # Without counts, the words are counted in the answers' passages, best retrieval score first.
    assert rank(question, answers, top_k=3, constants=C) == rank(question, answers, top_k=3, constants=C, counts=word_counts(question, [p]))


def test_only_the_best_candidates_of_each_passage_count():
    p1, p2 = passage("Kestrel or Glasgow.", "/a.txt"), passage("Glasgow.", "/b.txt")
    answers = [answer(p1, "Kestrel", 0.5), answer(p1, "Glasgow", 0.4), answer(p2, "Glasgow", 0.3)]
    one = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, per_passage=1)).answers
    assert [(a.text, a.share) for a in one] == [("Kestrel", pytest.approx(0.5**0.5 / (0.5**0.5 + 0.3**0.5))), ("Glasgow", pytest.approx(0.3**0.5 / (0.5**0.5 + 0.3**0.5)))]
    two = rank("q?", answers, top_k=2, constants=C).answers
    assert [a.text for a in two] == ["Glasgow", "Kestrel"]


def test_one_candidate_alone_is_certain_and_the_temperature_sharpens_the_shares():
    p = passage("Only Kestrel.")
    [only] = rank("q?", [answer(p, "Kestrel", 0.01)], top_k=5, constants=C).answers
    assert only.share == 1.0 and only.score == 1.0
    q = passage("Kestrel or Glasgow.")
    answers = [answer(q, "Kestrel", 0.64), answer(q, "Glasgow", 0.16)]
    plain = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, temperature=1.0, top_temperature=1.0)).answers
    assert [a.score for a in plain] == pytest.approx([2 / 3, 1 / 3])  # sqrt(0.64) : sqrt(0.16) = 2 : 1
    sharp = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, temperature=3.0, top_temperature=3.0)).answers
    assert [a.score for a in sharp] == pytest.approx([8 / 9, 1 / 9])  # 2 ** 3 : 1 ** 3


def test_the_first_answer_has_its_own_temperature_and_none_of_these_its_weight():
    q = passage("Kestrel or Glasgow.")
    answers = [answer(q, "Kestrel", 0.64), answer(q, "Glasgow", 0.16)]  # p ** 0.5: 0.8 and 0.4, shares 2/3 and 1/3 (no rest)
    first, second = rank("q?", answers, top_k=2, constants=dataclasses.replace(C, temperature=2.0, top_temperature=1.0)).answers
    # (2/3) ** 1 : (1/3) ** 2 = 6 : 1
    assert (first.text, second.text) == ("Kestrel", "Glasgow")
    assert [first.score, second.score] == pytest.approx([6 / 7, 1 / 7])
    # NO_ANSWER 1.2: shares 0.8 / 2.4 and 0.4 / 2.4, rest 0.5; none counts NONE_WEIGHT 2 times rest ** 2.
    weighted = dataclasses.replace(C, no_answer=1.2, temperature=2.0, top_temperature=1.0, none_weight=2.0)
    first, second = rank("q?", answers, top_k=2, constants=weighted).answers
    norm = 1 / 3 + (1 / 6) ** 2 + 2 * 0.5**2
    assert [first.score, second.score] == pytest.approx([(1 / 3) / norm, (1 / 6) ** 2 / norm])
    assert first.score + second.score == pytest.approx(1 - 2 * 0.5**2 / norm)  # the rest is "none of these"


def test_the_first_answer_is_the_one_of_most_evidence_after_cuts():
    # Evidence (pi 0.5 each, p ** 0.5): Kestrel 0.35, Leeds 0.3, and "Leeds Road" 0.2, a cut of
    # Leeds's place that OVERLAP "merge" adds to it: Leeds 0.5 passes Kestrel, so Leeds gets the
    # top temperature though it came second before the cut.
    p, other = passage("It is Kestrel.", "/a.txt"), passage("Or Leeds Road.", "/b.txt")
    answers = [answer(p, "Kestrel", 0.49), answer(other, "Leeds", 0.36), answer(other, "Leeds Road", 0.16)]
    ranked = rank("q?", answers, top_k=3, constants=dataclasses.replace(C, temperature=2.0, top_temperature=1.0)).answers
    assert [a.text for a in ranked] == ["Leeds", "Kestrel"]
    leeds, kestrel = 0.5 / 0.85, 0.35 / 0.85
    assert [a.share for a in ranked] == pytest.approx([leeds, kestrel])
    assert [a.score for a in ranked] == pytest.approx([leeds / (leeds + kestrel**2), kestrel**2 / (leeds + kestrel**2)])


def test_top_temperature_above_the_temperature_is_refused():
    with pytest.raises(ValueError, match=r"top_temperature must be within \(0, temperature\] \(it keeps the first answer first\)"):
        Constants(temperature=0.5, top_temperature=0.9)
    with pytest.raises(ValueError, match="none_weight >= 0"):
        Constants(none_weight=-1.0)


def test_min_score_gives_no_answer_and_candidates():
    # Four passages, four different answers: no agreement, no answer.
    ps = [passage(f"It is {w}.", f"/{w}.txt") for w in ("Kestrel", "Glasgow", "Leeds", "York")]
    answers = [answer(p, w, pr) for p, w, pr in zip(ps, ("Kestrel", "Glasgow", "Leeds", "York"), (0.36, 0.25, 0.16, 0.09))]
    ranking = rank("q?", answers, top_k=3, min_score=0.6, constants=C)
    assert not ranking.found and ranking.answers == []
    assert [c.text for c in ranking.candidates] == ["Kestrel", "Glasgow", "Leeds"]
    # p(a|d) ** 0.5: 0.6, 0.5, 0.4, 0.3; squared by the temperature 2 and normalised: 0.36 / 0.86, ...
    assert [c.score for c in ranking.candidates] == pytest.approx([0.36 / 0.86, 0.25 / 0.86, 0.16 / 0.86])  # 0.42, 0.29, 0.19
    assert [a.text for a in rank("q?", answers, top_k=3, min_score=0.4, constants=C).answers] == ["Kestrel"]
    assert rank("q?", [], top_k=1) == rank("q?", [], top_k=1, min_score=0.9)
    assert not rank("q?", [], top_k=1).found and rank("q?", [], top_k=1).candidates == []


def test_no_answer_evidence_keeps_scattered_answers_below_min_score():
    # Evidence sums: pi = (0.5, 0.5) without retrieval scores or Z spread; p ** 0.5 = 0.6 and 0.5.
    p1, p2 = passage("It is Kestrel.", "/a.txt"), passage("It is Glasgow.", "/b.txt")
    scattered = [answer(p1, "Kestrel", 0.36), answer(p2, "Glasgow", 0.25)]
    null = dataclasses.replace(C, no_answer=1.0)
    kestrel, glasgow = rank("q?", scattered, top_k=2, constants=null).answers
    assert kestrel.share == pytest.approx(0.3 / (0.3 + 0.25 + 1.0))
    assert [kestrel.score, glasgow.score] == pytest.approx(tempered([0.3, 0.25], rest=1.0))  # 0.078, 0.054: "none of these" 0.87
    assert not rank("q?", scattered, top_k=2, min_score=0.35, constants=null).found
    # The same passages agreeing on one answer whose sentence restates the question stand out.
    p3, p4 = passage("Kestrel was the engine Ada built.", "/c.txt"), passage("Ada built the engine Kestrel.", "/d.txt")
    agreeing = [answer(p3, "Kestrel", 0.36), answer(p4, "Kestrel", 0.25)]
    [found] = rank("Which engine did Ada build?", agreeing, top_k=2, min_score=0.35, constants=null).answers
    support = 2 * math.log(1 + 2 / 3) / (2 * math.log(1 + 2 / 3) + math.log(1 + 2 / 1))  # ada, engin in both; build in neither
    evidence = (0.5 * 0.6 + 0.5 * 0.5) * math.exp(5 * support)
    assert found.share == pytest.approx(evidence / (evidence + 1.0))
    assert found.score == pytest.approx(evidence**2 / (evidence**2 + 1.0))


def test_a_score_above_the_passage_normaliser_counts_as_certain_within_it():
    # Answers built without the reader's log-normaliser (0) must not get p(a|d) > 1.
    p = passage("Kestrel or Glasgow.")
    answers = [Answer("q?", "Kestrel", 3.0, 1.0, p, 0, 7), Answer("q?", "Glasgow", 5.0, 1.0, p, 11, 18)]
    ranked = rank("q?", answers, top_k=2, constants=C).answers
    assert [a.share for a in ranked] == pytest.approx([0.5, 0.5])


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
    with pytest.raises(ValueError, match=r"^overlap must be 'merge', 'drop' or 'ignore', got 'sum'$"):
        Constants(overlap="sum")


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


# -- distinct answers (issue 21) ----------------------------------------------------------------


def test_nested_spans_of_one_place_are_one_answer_holding_their_evidence():
    p = passage("It was written on October 14, 1998 in Cupertino.")
    pieces = {"October 14, 1998": 0.36, "14, 1998": 0.16, "October 14": 0.09, "1998": 0.04, "14": 0.01, "Cupertino": 0.25}
    answers = [answer(p, text, within) for text, within in pieces.items()]
    date, place = rank("q?", answers, top_k=5, constants=C).answers
    assert (date.text, place.text) == ("October 14, 1998", "Cupertino")
    assert [(s.start, s.end) for s in date.sources] == [(18, 34)]  # the best span's place, once
    nested = 0.6 + 0.4 + 0.3 + 0.2 + 0.1  # p(a|d) ** 0.5 of the span and of the four inside it
    assert [date.share, place.share] == pytest.approx([nested / 2.1, 0.5 / 2.1])
    assert [date.score, place.score] == pytest.approx(tempered([1.6, 0.5]))  # 0.91, 0.09
    # OVERLAP "ignore" (the default): the nested spans are recuts of the date, as if never
    # proposed: neither the date's evidence nor "none of these" (W = 2.1 - 1.0).
    ignored = rank("q?", answers, top_k=5, constants=dataclasses.replace(C, overlap="ignore")).answers
    assert [(a.text, a.share) for a in ignored] == [("October 14, 1998", pytest.approx(0.6 / 1.1)), ("Cupertino", pytest.approx(0.5 / 1.1))]
    assert [a.score for a in ignored] == pytest.approx(tempered([0.6 / 1.1, 0.5 / 1.1]))  # nothing left for "none"
    # OVERLAP "drop": the nested spans' evidence goes to no answer ("none of these").
    dropped = rank("q?", answers, top_k=5, constants=dataclasses.replace(C, overlap="drop")).answers
    assert [(a.text, a.share) for a in dropped] == [("October 14, 1998", pytest.approx(0.6 / 2.1)), ("Cupertino", pytest.approx(0.5 / 2.1))]
    assert [a.score for a in dropped] == pytest.approx(tempered([0.6, 0.5], rest=0.4 + 0.3 + 0.2 + 0.1))


def test_a_partial_overlap_is_the_same_answer_and_touching_spans_are_not():
    p = passage("alpha beta gamma delta")
    answers = [answer(p, "beta gamma", 0.36), answer(p, "gamma delta", 0.25), answer(p, "alpha", 0.09)]
    first, second = rank("q?", answers, top_k=5, constants=C).answers
    assert (first.text, first.share) == ("beta gamma", pytest.approx(1.1 / 1.4))  # 0.6 + 0.5 of "gamma delta"
    assert (second.text, second.share) == ("alpha", pytest.approx(0.3 / 1.4))  # ends where "beta" starts: no overlap


def test_the_same_place_through_two_overlapping_passages_is_one_answer():
    text = "alpha beta Kestrel gamma"
    first = passage(text, "/a.txt", offset=0)
    second = passage(text[6:], "/a.txt", offset=6)  # file offsets 6-24 in both
    elsewhere = passage(text, "/b.txt", offset=0)  # the same offsets in another file: another place
    answers = [answer(first, "Kestrel gamma", 0.25), answer(second, "Kestrel", 0.36), answer(second, "beta Kestrel", 0.16), answer(elsewhere, "Kestrel", 0.09)]
    # "Kestrel" (0.6 + 0.3 from /b.txt) is the best answer; the other two cuts share its
    # characters of /a.txt, one through each passage: they are Kestrel, and add to it.
    [kestrel] = rank("q?", answers, top_k=5, constants=C).answers
    assert (kestrel.text, kestrel.share) == ("Kestrel", pytest.approx(1.0))
    assert [(s.passage_id, s.start) for s in kestrel.sources] == [(second.id, 5), (elsewhere.id, 11)]
    # Without the agreeing /b.txt, "Kestrel gamma" of the first passage is still no answer of its own.
    assert [a.text for a in rank("q?", answers[:3], top_k=5, constants=C).answers] == ["Kestrel"]


def test_equal_texts_cut_twice_at_one_place_are_one_source_keeping_both_evidences():
    p = passage("It is owned by the Disney Group, a subsidiary.")
    other = passage("The Disney Group bought it.", "/b.txt")
    # "the Disney Group" and "Disney Group" normalise alike and share characters of /a.txt: one
    # place, listed once (the better cut), its evidence the two cuts' (0.6 + 0.4); /b.txt agrees.
    answers = [answer(p, "Disney Group", 0.36), answer(p, "the Disney Group", 0.16), answer(other, "Disney Group", 0.09), answer(p, "subsidiary", 0.25)]
    for overlap in ("merge", "drop", "ignore"):
        disney, subsidiary = rank("q?", answers, top_k=5, constants=dataclasses.replace(C, overlap=overlap)).answers
        assert [(s.file, s.start, s.end) for s in disney.sources] == [("/a.txt", 19, 31), ("/b.txt", 4, 16)]
        assert (disney.share, subsidiary.share) == (pytest.approx(1.3 / 1.8), pytest.approx(0.5 / 1.8))


def test_a_one_word_answer_repeated_in_an_unrelated_sentence_is_not_the_same_answer():
    question = "How many wheels had the engine Kestrel?"
    wheels = passage("The engine Kestrel had 14 wheels.", "/engines.txt")
    harbour = passage("The harbour railway closed on 14 May 1872.", "/harbour.pdf", page=3)
    restated = passage("Kestrel, the engine, had 14 wheels.", "/kestrel.txt")
    rule = dataclasses.replace(C, support=0.0, repeat_support=0.3)  # no support in the weights, to keep them round
    [fourteen] = rank(question, [answer(wheels, "14", 0.36), answer(harbour, "14", 0.25)], top_k=5, constants=rule).answers
    assert [s.file for s in fourteen.sources] == ["/engines.txt"]  # not "also in: harbour.pdf"
    assert (fourteen.share, fourteen.score) == (pytest.approx(0.6 / 1.1), pytest.approx(0.36 / (0.36 + 0.25)))  # the repeat: "none of these"
    # A sentence that restates the question is the same answer, and so is a text of more words, anywhere.
    [agreed] = rank(question, [answer(wheels, "14", 0.36), answer(restated, "14", 0.25)], top_k=5, constants=rule).answers
    assert [s.file for s in agreed.sources] == ["/engines.txt", "/kestrel.txt"] and agreed.share == pytest.approx(1.0)
    dated = passage("On 14 May 1872 the harbour railway closed.", "/dates.txt")
    [date] = rank(question, [answer(harbour, "14 May 1872", 0.36), answer(dated, "14 May 1872", 0.25)], top_k=5, constants=rule).answers
    assert [s.file for s in date.sources] == ["/harbour.pdf", "/dates.txt"]


def test_the_scores_of_a_question_are_exclusive_probabilities_summing_to_at_most_one():
    import random

    rng = random.Random(7)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()
    for trial in range(50):
        ps = [passage(" ".join(rng.sample(words, 8)) + ".", f"/{trial}-{i}.txt", score=rng.uniform(1, 12)) for i in range(4)]
        answers = []
        for p in ps:
            tokens = p.content.rstrip(".").split()
            for _ in range(6):
                i = rng.randrange(len(tokens))
                j = rng.randrange(i, min(len(tokens), i + 3))
                answers.append(answer(p, " ".join(tokens[i : j + 1]), rng.uniform(0.01, 0.9), log_norm=rng.uniform(-2, 2)))
        ranked = rank("alpha beta?", answers, top_k=100, constants=CONSTANTS).answers
        assert sum(a.score for a in ranked) <= 1.0 + 1e-12
        places = [(s.file, s.start, s.end) for a in ranked for s in a.sources]
        assert not any(f == g and s < e2 and s2 < e for n, (f, s, e) in enumerate(places) for g, s2, e2 in places[n + 1 :])
        assert len({normalize_answer(a.text) for a in ranked}) == len(ranked)
