from __future__ import annotations

import math

import pytest
from haystack import Document

from pipeline.answers import Answer
from pipeline.normalize import normalize_answer
from pipeline.ranking import rank


def passage(text, file="/a.txt", offset=0, score=None, page=None, pid=None):
    meta = {"file_path": file, "split_idx_start": offset, "page_number": page}
    return Document(id=pid or f"{file}:{offset}", content=text, meta=meta, score=score)


def answer(p, text, probability, score=1.0, occurrence=0):
    start = p.content.index(text) if occurrence == 0 else p.content.index(text, p.content.index(text) + 1)
    return Answer("q?", text, score, probability, p, start, start + len(text))


def test_normalize_answer_is_squads():
    assert normalize_answer("  The  Eiffel-Tower, (Paris)! ") == "eiffeltower paris"
    assert normalize_answer("An apple a day") == "apple day"


def test_same_text_in_several_files_is_one_answer_listing_all_sources():
    p1 = passage("It was Kestrel that came.", "/a.txt", page=None)
    p2 = passage("The engine Kestrel.", "/b.pdf", page=4)
    p3 = passage("Not this: Glasgow.", "/c.txt")
    ranking = rank("q?", [answer(p1, "Kestrel", 0.2), answer(p2, "Kestrel.", 0.25), answer(p3, "Glasgow", 0.3)], top_k=5)
    assert [a.text for a in ranking.answers] == ["Kestrel.", "Glasgow"]
    first = ranking.answers[0]
    assert first.probability == pytest.approx(0.45) and first.score == pytest.approx(0.45)
    assert [(s.file, s.page) for s in first.sources] == [("/b.pdf", 4), ("/a.txt", None)]


def test_same_location_through_overlapping_passages_counts_once():
    text = "alpha beta Kestrel gamma"
    first = passage(text, "/a.txt", offset=0)
    second = passage(text[6:], "/a.txt", offset=6)  # overlaps the first; Kestrel is at file offset 11 in both
    ranking = rank("q?", [answer(first, "Kestrel", 0.3), answer(second, "Kestrel", 0.4)], top_k=5)
    [only] = ranking.answers
    assert only.probability == pytest.approx(0.4)
    assert len(only.sources) == 1 and only.best.passage_id == second.id


def test_retrieval_weight_blends_log_linearly():
    p1 = passage("Answer one here.", "/a.txt", score=10.0)
    p2 = passage("Answer two here.", "/b.txt", score=2.5)
    answers = [answer(p1, "one", 0.2), answer(p2, "two", 0.3)]
    assert [a.text for a in rank("q?", answers, top_k=2).answers] == ["two", "one"]
    blended = rank("q?", answers, top_k=2, retrieval_weight=0.5).answers
    assert [a.text for a in blended] == ["one", "two"]
    assert blended[0].score == pytest.approx(0.2**0.5 * 1.0**0.5)
    assert blended[1].score == pytest.approx(0.3**0.5 * 0.25**0.5)


def test_min_score_gives_no_answer_and_candidates():
    p = passage("Maybe Kestrel or Glasgow.")
    ranking = rank("q?", [answer(p, "Kestrel", 0.02), answer(p, "Glasgow", 0.01)], top_k=5, min_score=0.05)
    assert not ranking.found and ranking.answers == []
    assert [c.text for c in ranking.candidates] == ["Kestrel", "Glasgow"]


def test_context_snippet_around_the_answer():
    text = "word " * 100 + "Kestrel" + " word" * 100
    p = passage(text)
    [ranked] = rank("q?", [answer(p, "Kestrel", 0.5)], top_k=1, context_chars=40).answers
    source = ranked.best
    assert source.context == "word word word word Kestrel word word word word"
    assert source.context[source.start - source.context_start : source.end - source.context_start] == "Kestrel"


def test_bad_settings():
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        rank("q?", [], top_k=0)
    with pytest.raises(ValueError, match=r"^retrieval_weight must be within \[0, 1\], got 2$"):
        rank("q?", [], top_k=1, retrieval_weight=2)


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
