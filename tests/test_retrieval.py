from __future__ import annotations


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from haystack import Document

from pipeline.retriever import BM25Retriever, RankBM25Retriever
from store.records import FileInfo
from store.terms import match_expression, query_words, terms

TOPICS = [
    "The river Seine flows through Paris, the capital of France, before reaching the sea.",
    "Kestrel, the first locomotive, was delivered by sea from Glasgow in 1872.",
    "Jupiter is the largest planet; its Great Red Spot is a storm older than 350 years.",
    "Coffee beans keep their aroma for weeks after roasting; grind them just before brewing.",
    "Saturn's rings are made mostly of ice and are less than a kilometre thick.",
    "The railway closed in 1959 and volunteers reopened the first four miles in 1971.",
    "Espresso needs a fine grind because water passes through the coffee in thirty seconds.",
    "Mercury has almost no atmosphere, so its surface temperature swings widely.",
    "The viaduct at Ashford was rebuilt in stone with five arches after the flood of 1903.",
    "A French press needs a coarse grind; the coffee steeps for about four minutes.",
    "Neptune was found by mathematical prediction before anyone had seen it.",
    "Olympus Mons on Mars is the tallest volcano in the Solar System.",
]


def index(store, texts, path="/docs/topics.txt"):
    docs = [
        Document(content=t, meta={"file_path": path, "split_id": i, "split_idx_start": i * 1000, "page_number": None})
        for i, t in enumerate(texts)
    ]
    store.save_file(FileInfo(path, f"{abs(hash(path)):064x}"[:64], 1, 1.0), None, docs)
    return docs


@pytest.mark.parametrize(
    "question",
    [
        'What did "Kestrel" carry?',
        "coffee* grind",
        "Mars NEAR volcano",
        "Saturn OR rings AND ice NOT",
        "first-class -locomotive",
        "title:Jupiter storm",
        "(Neptune) ^prediction {x} [y]",
        "'single' quotes; semicolons, commas.",
        "ÉLÉPHANT café naïve",
        "?!",
    ],
)
def test_questions_with_fts5_syntax_never_fail(store, question):
    index(store, TOPICS)
    docs = store.bm25_retrieval(question, top_k=3)
    assert isinstance(docs, list)


def test_match_expression_quotes_every_word_and_drops_stopwords():
    assert match_expression(query_words('What is "NEAR" the Kestrel-engine: OR*?')) == '"near" OR "kestrel" OR "engine"'
    assert match_expression(query_words("the of and")) == '"the" OR "of" OR "and"'  # only stopwords: keep them
    assert match_expression(query_words("?! ...")) is None


def test_stemming_matches_inflected_forms(store):
    index(store, TOPICS)
    best = store.bm25_retrieval("grinding beans roasted", top_k=1)[0]
    assert best.content == TOPICS[3]
    assert terms("Grinding roasted Amazônica") == ["grind", "roast", "amazonica"]


def test_stems_stay_right_when_the_stem_cache_starts_afresh(monkeypatch):
    import store.terms as module

    monkeypatch.setattr(module, "_STEMS_KEPT", 2)
    monkeypatch.setattr(module, "_stems", {})
    assert terms("running dogs jumped running") == ["run", "dog", "jump", "run"]
    assert terms("connections connected") == ["connect", "connect"]  # past the bound: a new cache
    assert len(module._stems) <= 3


def test_scores_are_positive_and_sorted(store):
    index(store, TOPICS)
    docs = store.bm25_retrieval("coffee grind", top_k=5)
    scores = [d.score for d in docs]
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert {d.content for d in docs[:3]} == {TOPICS[3], TOPICS[6], TOPICS[9]}


def test_same_top_passages_as_rank_bm25(tmp_path, store):
    # rank-bm25's BM25Okapi on the same tokens is the reference for FTS5's bm25() (tantivy's
    # IDF is Lucene's: tests/test_search_index.py has its own reference).
    import random

    rng = random.Random(3)
    vocabulary = " ".join(TOPICS).split()
    corpus = TOPICS + [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(8, 30))) for _ in range(60)]
    index(store, corpus)
    fts5 = BM25Retriever(store, top_k=5, engine="fts5")
    reference = RankBM25Retriever(store, top_k=5)
    for question in ["Which locomotive came from Glasgow?", "coffee grind espresso", "tallest volcano Mars", "ice rings of Saturn", "flood viaduct stone arches"]:
        ours = [d.content for d in fts5.run(question)["documents"]]
        theirs = [d.content for d in reference.run(question)["documents"]]
        assert ours[:3] == theirs[:3], question


def test_filters_by_path_glob_and_file_id(store):
    index(store, TOPICS[:6], "/docs/a/one.txt")
    index(store, TOPICS[6:], "/docs/b/two.md")
    ids = {p: s.id for p, s in store.file_states().items()}
    question = "coffee grind"
    assert {d.meta["file_path"] for d in store.bm25_retrieval(question, 10)} == {"/docs/a/one.txt", "/docs/b/two.md"}
    assert {d.meta["file_path"] for d in store.bm25_retrieval(question, 10, paths=["*/b/*"])} == {"/docs/b/two.md"}
    assert {d.meta["file_path"] for d in store.bm25_retrieval(question, 10, file_ids=[ids["/docs/a/one.txt"]])} == {"/docs/a/one.txt"}
    haystack_filter = {"field": "meta.file_path", "operator": "==", "value": "/docs/a/one.txt"}
    assert {d.meta["file_path"] for d in store.bm25_retrieval(question, 10, haystack_filter)} == {"/docs/a/one.txt"}


def test_index_stays_current(store):
    index(store, TOPICS[:3], "/a.txt")
    assert store.bm25_retrieval("coffee", 5) == []
    index(store, TOPICS, "/b.txt")
    assert [d.content for d in store.bm25_retrieval("coffee aroma", 1)] == [TOPICS[3]]


def test_top_k_must_be_positive(store):
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        store.bm25_retrieval("x", 0)
    with pytest.raises(ValueError, match=r"^top_k must be >= 1, got 0$"):
        BM25Retriever(store, top_k=0)


def test_retrievers_serialise(store):
    for cls in (BM25Retriever, RankBM25Retriever):
        restored = cls.from_dict(cls(store, top_k=7).to_dict())
        assert isinstance(restored, cls) and restored.top_k == 7 and restored.document_store.path == store.path


def test_max_postings_leaves_the_most_common_words_out(store):
    common = [f"Passage {i} mentions the river and the city." for i in range(40)]
    rare = ["The Kestrel locomotive crossed the river into the city.", "A Kestrel is also a small falcon."]
    index(store, common + rare)
    exact = store.bm25_retrieval("Kestrel river city", top_k=3, engine="fts5")
    assert {d.content for d in exact[:2]} == set(rare) and len(exact) == 3
    # "river" and "city" occur in 41 passages each: over a budget of 10 only "kestrel" is searched.
    pruned = store.bm25_retrieval("Kestrel river city", top_k=3, max_postings=10, engine="fts5")
    assert {d.content for d in pruned} == set(rare)
    assert store.bm25_retrieval("Kestrel river city", top_k=3, max_postings=1000, engine="fts5") == exact
    with pytest.raises(ValueError, match="^max_postings applies to engine 'fts5' only"):
        store.bm25_retrieval("Kestrel", top_k=3, max_postings=10)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127)))
def test_ascii_words_are_split_as_the_unicode_rule_splits_them(text):
    # store.terms takes a fast path for ASCII text; it must agree with unicode61's rule.
    from store.terms import _TOKEN, fold, words

    assert words(text) == _TOKEN.findall(fold(text))


def _reference_words(text):
    """unicode61's rule as docqa first wrote it: a Python step per character."""
    import unicodedata

    from store.terms import _TOKEN

    decomposed = unicodedata.normalize("NFKD", text.lower())
    return _TOKEN.findall("".join(c for c in decomposed if not unicodedata.combining(c)))


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=8),
            st.sampled_from(["é", "Ü", "ß", "İ", "Σ", "ς", "ﬁ", "…", "½", "＿", "K", "\u00a0", "\u2028", "\x85", "“", "’", "–", "e\u0301", "\u0301", "日本", "\ud800", "١٢"]),
            st.text(max_size=4),
        ),
        max_size=12,
    ).map("".join)
)
def test_words_of_any_text_are_split_and_folded_as_the_unicode_rule_does(text):
    # store.terms splits text that is not ASCII at ASCII separators first and applies the
    # Unicode rule to the rest only: the words must be those of the rule on the whole text.
    from store.terms import words

    assert words(text) == _reference_words(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["as", "us", "is", "xs", "gas", "ties", "ponies", "running", "a" * 62 + "ing", "a" * 63 + "ing", "s" * 70 + "ing", "Beyoncé's", "Ægir", "naïve", "U.S.", "3D", "café"]), st.text(alphabet="aeinrstuy", min_size=1, max_size=8)), min_size=1, max_size=30).map(" ".join))
def test_terms_are_the_terms_fts5_indexes(text):
    # The tantivy index and rank-bm25 get store.terms' terms, FTS5 its own tokenizer's: the
    # same text must give the same terms, short and very long words included. (Compatibility
    # characters are left out: store.terms folds them by NFKD, unicode61 keeps them.)
    import sqlite3

    from store.schema import FTS_TOKENIZER
    from store.terms import terms

    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{FTS_TOKENIZER}')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.execute("INSERT INTO t VALUES (?)", (text,))
    assert terms(text) == [term for term, in db.execute("SELECT term FROM v ORDER BY offset")]
