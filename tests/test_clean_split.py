from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import threading

from ingest.clean import clean, clean_stream
from ingest.split import page_numbers, split_stream, split_text


def test_clean_joins_hyphenation_and_collapses_whitespace():
    raw = "  The docu-\n  ment was   long.\n\n\n  New   para-\ngraph\there.\x0c \n A line\nbreak. \ufb01nal Franco-\nPrussian  "
    assert clean(raw) == "The document was long.\n\nNew paragraph here. A line break. final Franco-Prussian"


def test_clean_makes_every_lone_whitespace_character_a_space():
    # Only runs that are not one plain space are rewritten: a lone newline, tab, no-break or
    # ideographic space must still become " ".
    assert clean("a\nb\tc\u00a0d\u3000e\rf  g \n h") == "a b c d e f g h"


def test_clean_of_whitespace_is_empty():
    assert clean(" \n\n\t \x00 ") == ""


def test_clean_of_long_whitespace_runs_does_not_hang():
    # A paragraph pattern (\s*\n\s*\n\s*) backtracks quadratically on a run of spaces: a
    # file of 1 MB of blank space took minutes. Bounded wait, so a regression fails, not hangs.
    text = "a" + " " * 1_000_000 + "b\n \n" + "\t" * 1_000_000 + "c"
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(clean(text)), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert result == ["a b\n\nc"]


def chunked(text, cuts):
    cuts = sorted(c % (len(text) + 1) for c in cuts)
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(["a", "B", "-", "\n", " ", "\t", ".", "\x00", "\r", "\f", "\ufb01", "\u00ad", "\u2028", "\xa0", "word"]), max_size=200).map("".join),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_clean_stream_equals_clean_of_the_whole(text, cuts):
    assert "".join(clean_stream(chunked(text, cuts))) == clean(text)


def test_clean_stream_finds_cuts_far_back_and_cuts_junk_without_spaces(monkeypatch):
    # The last safe cut lies before the last 4,096 characters, then a piece with no space at all.
    text = "start of it.\n\n" + "x" * 10_000 + " tail"
    assert "".join(clean_stream([text[:7000], text[7000:]])) == clean(text)
    monkeypatch.setattr("ingest.clean._MAX_PIECE", 100)
    pieces = list(clean_stream(["y" * 150, "y" * 150]))
    assert "".join(pieces) == "y" * 300 and len(pieces) == 2


def words(n, prefix="w"):
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_split_exact_lengths_without_sentences():
    text = words(100)
    splits = split_text(text, length=30, overlap=5)
    assert [len(s.text.split()) for s in splits] == [30, 30, 30, 25]
    assert [s.text.split()[0] for s in splits] == ["w0", "w25", "w50", "w75"]


def test_split_prefers_a_nearby_sentence_end():
    text = "One two three four five six seven. " + words(40)
    splits = split_text(text, length=8, overlap=0)
    assert splits[0].text == "One two three four five six seven."


def test_split_ignores_abbreviations():
    text = "See e.g. the river and more words here now. Then " + words(20)
    first = split_text(text, length=9, overlap=0)[0].text
    assert first == "See e.g. the river and more words here now."


def test_split_keeps_a_short_tail_whole():
    assert len(split_text(words(36), length=30, overlap=5)) == 1


def test_split_of_empty_text():
    assert split_text("", 10, 2) == []
    assert split_text("  \n ", 10, 2) == []


@pytest.mark.parametrize("length, overlap", [(0, 0), (5, 5), (5, -1)])
def test_split_rejects_bad_settings(length, overlap):
    with pytest.raises(ValueError):
        split_text("a b c", length, overlap)


def test_page_numbers_across_page_breaks():
    text = "alpha beta\fgamma delta\f\fepsilon"
    splits = split_text(text, length=2, overlap=1)
    assert [(s.text, s.start) for s in splits] == [
        ("alpha beta", 0),
        ("beta\fgamma", 6),
        ("gamma delta", 11),
        ("delta\f\fepsilon", 17),
    ]
    assert page_numbers(text, [s.start for s in splits]) == [1, 1, 2, 2]


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(st.sampled_from(["w", "x.", "Dr.", "end!", "q?'", "\n\n", " ", "\f", "ab)"]), max_size=300).map("".join),
    length=st.integers(1, 12),
    cuts=st.lists(st.integers(0, 10_000), max_size=8),
    data=st.data(),
)
def test_split_stream_equals_split_text_of_the_whole(text, length, cuts, data):
    overlap = data.draw(st.integers(0, length - 1))
    streamed = list(split_stream(chunked(text, cuts), length, overlap))
    assert streamed == split_text(text, length, overlap)


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("ab .!?\n\f\u00e9\u4e2d"), max_size=400),
    length=st.integers(1, 12),
    data=st.data(),
)
def test_split_offsets_are_exact_and_cover_every_word(text, length, data):
    overlap = data.draw(st.integers(0, length - 1))
    splits = split_text(text, length, overlap)
    for s in splits:
        assert s.text and text[s.start : s.start + len(s.text)] == s.text
        assert s.text == s.text.strip()
    covered = set()
    for s in splits:
        covered.update(range(s.start, s.start + len(s.text)))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert [s.start for s in splits] == sorted({s.start for s in splits})
