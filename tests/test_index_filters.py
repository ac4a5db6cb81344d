"""Haystack filters decided by the search index (store.index_filters) keep exactly the passages
SQLite keeps (store.filters), on indexed passages and protocol documents with metadata of every
JSON type; what might mean something else is left to SQLite."""

from __future__ import annotations

import random

import pytest
from haystack import Document
from hypothesis import example, given
from hypothesis import strategies as st

from store.document_store import SQLiteDocumentStore
from store.haystack_compat import FilterError
from store.index_filters import Translator, order_key
from store.records import FileInfo
from store.search_index import Hit

FIELDS = ["meta.lang", "meta.year", "meta.score", "meta.tags", "meta.nested.k", "meta.a.b", "meta.a", "meta.page_number",
          "meta.split_id", "meta.file_id", "meta.file_path", "meta.missing", "meta.split_idx_start", "meta.published", "meta.seen",
          "content", "id"]
VALUES = ["en", "de", "", 2020, 2020.0, "2020", 1, 1.0, True, False, 0, 2.5, -1, None, ["a", "b"], '["a","b"]', "{}",
          "/docs/0.txt", "/docs/1.txt", "/proto/x.txt", 3, "3", 7, "2020-01-01", "x" * 3000, -0.5, -2019.75, 2**62, 1e300,
          "2019-12-31T23:00:00", "2020-01-01 00:00:00.5", "2020-01-01T01:00:00+02:00", "p3", "p11", "1",
          "common word1", "Common  WORD1!", "common proto3", "common", "x" * 2999, ["y" * 2500], '["' + "y" * 2500 + '"]']
# Dates as SQLite's julianday() reads them: times alone (on 2000-01-01), numbers (Julian days),
# offsets; and 'now', which makes every date filter on that key SQLite's.
DATES = ["2020-01-01", "2019-12-31 23:59:59.999", "2020-01-01T00:00:00.5Z", "12:30", 2458849.5, "2458850", "not a date", True, -3]
OPERATORS = ["==", "!=", "in", "not in", "<", "<=", ">", ">="]


def user_meta(rng: random.Random) -> dict:
    meta = {}
    for key, pool in (("lang", ["en", "de", "EN", "", "x" * 3000]), ("year", [2019, 2020, 2020.0, "2020", None, -0.0, -0.5, -2019.75, 2**62, 2**64, 1e300, -1e-300]), ("score", [0.5, 1, True, False, 2.5]),
                      ("tags", [["a", "b"], ["a"], [], ["y" * 2500]]), ("nested", [{"k": "v"}, {"k": 3}, "flat"]), ("a.b", [1, "1"]), ("a", [{"b": 1}, {"b": "1"}]),
                      ("published", DATES), ("seen", [*DATES, "NOW"])):
        if rng.random() < 0.7:
            meta[key] = rng.choice(pool)
    return meta


def make_store(tmp_path, rng: random.Random, *, protocol: bool) -> SQLiteDocumentStore:
    store = SQLiteDocumentStore(tmp_path / "f.db")
    for f in range(4):
        path = f"/docs/{f}.txt"
        docs = [
            Document(content=f"common word{i % 3}", meta={"file_path": path, "split_id": i, "split_idx_start": 10 * i,
                                                          "page_number": rng.choice([None, 1, 2, 3, 7]), **user_meta(rng)})
            for i in range(8)
        ]
        store.save_file(FileInfo(path, f"{f:064x}", 1, 1.0), None, docs)
    if protocol:
        store.write_documents([
            Document(id=f"p{i}", content=f"common proto{i}", meta={
                **user_meta(rng),
                **{k: rng.choice(pool) for k, pool in (("page_number", [1, 3, "3", 2.5, None, ["a", "b"]]), ("split_id", [0, 2, "2", '["a","b"]']),
                                                      ("file_path", ["/proto/x.txt", "/docs/0.txt", 3, ["a", "b"]]), ("file_id", [1, 2, "1"]))
                   if rng.random() < 0.6},
            })
            for i in range(12)
        ])
    return store


def random_filter(rng: random.Random, depth: int = 0) -> dict:
    if depth < 2 and rng.random() < 0.4:
        operator = rng.choice(["AND", "OR", "NOT"])
        return {"operator": operator, "conditions": [random_filter(rng, depth + 1) for _ in range(rng.randint(0 if operator != "NOT" else 1, 3))]}
    operator = rng.choice(OPERATORS)
    if operator in ("in", "not in"):
        value = rng.sample([v for v in VALUES if not isinstance(v, list)], rng.randint(0, 3))
    else:
        value = rng.choice(VALUES)
    return {"field": rng.choice(FIELDS), "operator": operator, "value": value}


def translator_of(store: SQLiteDocumentStore, snapshot) -> Translator:
    return Translator(snapshot, store._file_ids_with_path, store._file_ids_ordered, store._pks_with_id, store._pks_passing)


def kept_by_index(store: SQLiteDocumentStore, filters: dict) -> set[str] | None:
    snapshot = store._search.snapshot()
    assert snapshot is not None
    translated = translator_of(store, snapshot).query(filters)
    if translated is None:
        return None
    hits = snapshot.search(["common"], 1_000, only=translated.query)
    kept = {doc.id for doc in store._documents_by_pk(hits)}
    assert len(kept) <= translated.most  # the bound the store plans by
    # What the probe asks instead: which of given passages the query keeps.
    every = [hit.pk for hit in snapshot.search(["common"], 1_000)]
    assert snapshot.passing(every[::2], translated.query) == {hit.pk for hit in hits} & set(every[::2])
    return kept


@pytest.mark.parametrize(
    ("protocol", "few_terms"),
    [(False, 256), (True, 256), (True, 0)],
    ids=["indexed passages", "with protocol documents", "every set of terms a term set"],
)
def test_translated_filters_keep_exactly_what_sqlite_keeps(tmp_path, monkeypatch, protocol, few_terms):
    from store import index_filters

    # A few terms are an OR of term queries, more a term set (index_filters._terms): both kinds.
    monkeypatch.setattr(index_filters, "_FEW_TERMS", few_terms)
    rng = random.Random(7)
    store = make_store(tmp_path, rng, protocol=protocol)
    translated = compared = 0
    for _ in range(600):
        filters = random_filter(rng)
        try:
            expected = {doc.id for doc in store.filter_documents(filters)}
        except FilterError:
            continue  # malformed (an ordering on a list, a string that is not a date): refused before either runs
        compared += 1
        kept = kept_by_index(store, filters)
        if kept is not None:
            translated += 1
            assert kept == expected, filters
    # The comparison means something only if most filters were decided by the index.
    assert compared > 400
    assert translated > 0.3 * compared, (translated, compared)


def test_none_on_a_column_is_decided_by_the_index(tmp_path):
    # Indexed passages keep these keys in columns (a text file's page_number is NULL), protocol
    # documents in their JSON (missing, null or a value).
    store = make_store(tmp_path, random.Random(3), protocol=True)
    for field in ("meta.page_number", "meta.split_id", "meta.split_idx_start", "meta.file_id", "meta.file_path"):
        for operator, value in (("==", None), ("!=", None), ("in", [None, 3]), ("not in", [None, "/docs/0.txt"])):
            filters = {"field": field, "operator": operator, "value": value}
            expected = {doc.id for doc in store.filter_documents(filters)}
            assert kept_by_index(store, filters) == expected, filters
    nulls = {doc.id for doc in store.filter_documents({"field": "meta.page_number", "operator": "==", "value": None})}
    assert any(i.startswith("p") for i in nulls) and any(not i.startswith("p") for i in nulls)  # both kinds are among them


def test_lists_and_dicts_are_decided_by_the_index_as_sqlite_compares_their_json_text(tmp_path, monkeypatch):
    from store import index_filters

    store = SQLiteDocumentStore(tmp_path / "l.db")
    metas = {"a": {"tags": ["a", "b"]}, "b": {"tags": '["a","b"]'}, "c": {"tags": ["a", "b", 1.5e300]}, "d": {"tags": {"x": ["é", True]}},
             "e": {"tags": '["a", "b"]'}, "f": {"tags": "a"}, "g": {}, "h": {"tags": {"x": ["é", True], "y": None}}}
    store.write_documents([Document(id=i, content=f"common {i}", meta=meta) for i, meta in metas.items()])
    cases = [
        ({"field": "meta.tags", "operator": "==", "value": ["a", "b"]}, {"a", "b"}),  # the string of the same JSON text too
        ({"field": "meta.tags", "operator": "==", "value": '["a","b"]'}, {"a", "b"}),
        ({"field": "meta.tags", "operator": "==", "value": '["a", "b"]'}, {"e"}),  # not the text json_extract gives
        ({"field": "meta.tags", "operator": "in", "value": [["a", "b", 1.5e300], {"x": ["é", True]}]}, {"c", "d"}),
        ({"field": "meta.tags.x", "operator": "==", "value": ["é", True]}, {"d", "h"}),
        ({"field": "meta.tags", "operator": "!=", "value": ["a", "b"]}, {"c", "d", "e", "f", "g", "h"}),
        ({"field": "meta.tags", "operator": "not in", "value": [{}, ["a"]]}, set(metas)),
    ]
    for filters, expected in cases:
        assert {doc.id for doc in store.filter_documents(filters)} == expected, filters
        assert kept_by_index(store, filters) == expected, filters
    # On a key indexed passages keep in a column: a path may be a list's JSON text, an integer never is.
    store.save_file(FileInfo('["a","b"]', "1" * 64, 1, 1.0), None, [Document(content="common file", meta={
        "file_path": '["a","b"]', "split_id": 0, "split_idx_start": 0, "page_number": 1})])
    store.write_documents([Document(id="p", content="common p", meta={"page_number": ["a", "b"], "file_path": ["a", "b"]})])
    for field, expected in (("meta.file_path", {"p", "file"}), ("meta.page_number", {"p"})):
        for value in (["a", "b"], '["a","b"]'):
            filters = {"field": field, "operator": "==", "value": value}
            assert {doc.id if doc.id == "p" else doc.content.split()[1] for doc in store.filter_documents(filters)} == expected, filters
            assert {i if i == "p" else "file" for i in kept_by_index(store, filters)} == expected, filters
    # A SQLite that wrote a list otherwise than json.dumps: left to it.
    monkeypatch.setattr(index_filters, "_json_as_python", lambda: False)
    assert kept_by_index(store, cases[0][0]) is None


def test_dates_against_a_column_are_its_integers_as_julian_days(tmp_path):
    # julianday() reads an integer as a Julian day number from 0 to 5373484 (the last day of
    # 9999), NULL past it: offsets on both sides of that, and of the dates' days.
    store = SQLiteDocumentStore(tmp_path / "j.db")
    starts = [0, 5, 2_458_849, 2_458_850, 5_373_484, 5_373_485, 9_000_000]
    docs = [Document(content=f"common {i}", meta={"file_path": "/a.txt", "split_id": i, "split_idx_start": start, "page_number": None})
            for i, start in enumerate(starts)]
    store.save_file(FileInfo("/a.txt", "0" * 64, 1, 1.0), None, docs)
    store.write_documents([Document(id="p1", content="common p", meta={"split_idx_start": "2020-01-02"}),
                           Document(id="p2", content="common q", meta={"split_idx_start": 2_458_850})])
    for operator in ("<", "<=", ">", ">="):
        for value in ("2020-01-01", "2020-01-01T12:00:00", "9999-12-31", "0000-01-01", "not a date but ISO? no"):
            filters = {"field": "meta.split_idx_start", "operator": operator, "value": value}
            try:
                expected = {doc.id for doc in store.filter_documents(filters)}
            except FilterError:
                continue
            assert kept_by_index(store, filters) == expected, filters
    # 2020-01-01 is day 2458849.5: of the offsets 2458850 and 5373484 only (NULL past it), and both documents.
    kept = store.filter_documents({"field": "meta.split_idx_start", "operator": ">=", "value": "2020-01-01"})
    assert sorted(str(doc.meta.get("split_id", doc.id)) for doc in kept) == ["3", "4", "p1", "p2"]


def test_file_path_orderings_and_dates_of_now_are_decided_by_the_index(tmp_path):
    import time
    from datetime import datetime, timedelta, timezone

    # Paths that julianday() reads (a date, 'now') and that it does not; protocol documents
    # with file_path in their JSON; 'now' in the JSON as SQLite reads it (any case, up to a NUL).
    store = SQLiteDocumentStore(tmp_path / "o.db")
    for n, path in enumerate(["/docs/a.txt", "2020-06-01", "now", "2458850"]):
        docs = [Document(content=f"common {path} {i}", meta={"file_path": path, "split_id": i, "split_idx_start": 0, "page_number": None}) for i in range(2)]
        store.save_file(FileInfo(path, f"{n:064x}", 1, 1.0), None, docs)
    seen = {"p1": "now", "p2": "NOW", "p3": "now\x00later", "p4": "2020-01-01", "p5": "3000-01-01", "p6": " now"}
    paths = {"p1": 3, "p2": "/proto/x.txt", "p3": "2021-01-01", "p4": "NoW", "p5": None}
    store.write_documents([Document(id=i, content=f"common {i}", meta={"seen": v, "file_path": paths.get(i)}) for i, v in seen.items()])
    in_a_second = (datetime.now(timezone.utc) + timedelta(seconds=1.5)).strftime("%Y-%m-%dT%H:%M:%S.%f")
    snapshot = store._search.snapshot()
    for field in ("meta.file_path", "meta.seen"):
        for operator in ("<", "<=", ">", ">="):
            for value in ("2020-01-01", "2020-06-01T00:00:00", "2999-01-01", in_a_second, 5, 2458850, -1.5):
                filters = {"field": field, "operator": operator, "value": value}
                expected = {doc.id for doc in store.filter_documents(filters)}
                assert kept_by_index(store, filters) == expected, filters
                translated = translator_of(store, snapshot).query(filters)
                assert translated.reads_clock == isinstance(value, str), filters  # both keys have a value of 'now'
    now_ids = {"p1", "p2", "p3"}
    assert now_ids <= {doc.id for doc in store.filter_documents({"field": "meta.seen", "operator": ">", "value": "2020-01-01"})}
    assert {"p4", "p5", "p6"}.isdisjoint(d.id for d in store.filter_documents({"field": "meta.seen", "operator": "<", "value": "2000-01-01"}))
    # Without a value of 'now', a translation is kept.
    plain = {"field": "meta.split_id", "operator": "<", "value": 1}
    assert not translator_of(store, snapshot).query(plain).reads_clock

    # The store translates such a filter again for each search: in a second and a half 'now'
    # passes the date, and the passages holding it stop passing.
    before = {"field": "meta.seen", "operator": "<", "value": in_a_second}
    assert now_ids <= {doc.id for doc in store.bm25_retrieval("common", 20, filters=before)}
    time.sleep(2)
    assert now_ids.isdisjoint(doc.id for doc in store.bm25_retrieval("common", 20, filters=before))
    assert {doc.id for doc in store.bm25_retrieval("common", 20, filters=before)} == {d.id for d in store.filter_documents(before)}


@pytest.mark.parametrize("collide", [False, True], ids=["hashes", "texts of one first letter in one bucket"])
def test_content_equality_is_decided_by_sqlite_on_the_passages_of_a_bucket(tmp_path, monkeypatch, collide):
    from store import index_filters, search_index

    if collide:  # what SQLite sorts out where two texts share a bucket
        monkeypatch.setattr(index_filters, "text_term", lambda text: text[:1])
        monkeypatch.setattr(search_index, "text_term", lambda text: text[:1])
    store = SQLiteDocumentStore(tmp_path / "c.db")
    texts = {"a": "The river flows north.", "b": "the RIVER flows north", "c": "The river flows north. The river",
             "d": "north flows the river.", "e": "", "f": "the", "g": "...", "h": "The river flows north."}
    store.write_documents([Document(id=i, content=text, meta={"n": k}) for k, (i, text) in enumerate(texts.items())])
    store.write_documents([Document(id=f"x{k}", content=f"other words {k}") for k in range(20)])
    compared = []
    pks_passing = store._pks_passing
    monkeypatch.setattr(store, "_pks_passing", lambda pks, filters: compared.append(sorted(pks)) or pks_passing(pks, filters))
    cases = [
        ({"field": "content", "operator": "==", "value": "The river flows north."}, {"a", "h"}),
        ({"field": "content", "operator": "in", "value": ["the RIVER flows north", "north flows the river.", "nowhere"]}, {"b", "d"}),
        ({"field": "content", "operator": "in", "value": ["", "...", "the"]}, {"e", "f", "g"}),  # no words, or a stopword
        ({"field": "content", "operator": "==", "value": "not a passage"}, set()),
        ({"field": "content", "operator": "in", "value": [None, "the"]}, {"f"}),  # a text is never NULL
        ({"field": "content", "operator": "!=", "value": None}, set(texts)),
        ({"field": "content", "operator": "!=", "value": "The river flows north."}, set(texts) - {"a", "h"}),
        ({"field": "content", "operator": "not in", "value": ["", "the", "The river"]}, set(texts) - {"e", "f"}),
        ({"operator": "AND", "conditions": [{"field": "content", "operator": "==", "value": "The river flows north."},
                                            {"field": "meta.n", "operator": ">", "value": 0}]}, {"h"}),
        ({"operator": "OR", "conditions": [{"field": "content", "operator": "==", "value": "The river"},
                                           {"field": "meta.n", "operator": "==", "value": 2}]}, {"c"}),
    ]
    snapshot = store._search.snapshot()
    translator = translator_of(store, snapshot)

    def kept(filters):  # every passage the translated query keeps, those without words too
        translated = translator.query(filters)
        return None if translated is None else {doc.id for doc in store._documents_by_pk([Hit(pk, 0.0, None, 0, None) for pk in snapshot.keeping(translated.query, 1_000)])}

    for filters, expected in cases:
        every = {doc.id for doc in store.filter_documents(filters)}
        assert {i for i in every if not i.startswith("x")} == expected, filters
        assert kept(filters) == every, filters
        found = {doc.id for doc in store.bm25_retrieval("river north flows words", 50, filters=filters)}
        assert found == every - {"e", "f", "g"}, filters  # those hold no word a question keeps (f: a stopword)
    # SQLite compared the passages of the value's bucket only: with real hashes those of the
    # text (a and h), with every "T..." text in one bucket a, c and h.
    assert compared[0] == ([1, 3, 8] if collide else [1, 8])
    # A bucket that more passages share than SQLite is asked to compare: left to it.
    monkeypatch.setattr(index_filters, "_CANDIDATES_MOST", 1)
    assert kept(cases[0][0]) is None


def test_long_values_are_terms_of_their_hash(tmp_path):
    long, longer = "x" * 3000, "x" * 3000 + "y"
    metas = {"a": {"v": long}, "b": {"v": longer}, "c": {"v": ["z" * 2500]}, "d": {"v": '["' + "z" * 2500 + '"]'},
             "e": {"v": "short"}, "f": {}, "g": {"v": {"k": long}}, "h": {"v": long}}
    store = SQLiteDocumentStore(tmp_path / "long.db")
    store.write_documents([Document(id=i, content=f"common {i}", meta=meta) for i, meta in metas.items()])
    cases = [
        ({"field": "meta.v", "operator": "==", "value": long}, {"a", "h"}),
        ({"field": "meta.v", "operator": "in", "value": [longer, "short"]}, {"b", "e"}),
        ({"field": "meta.v", "operator": "==", "value": ["z" * 2500]}, {"c", "d"}),  # the list, and the string of its JSON text
        ({"field": "meta.v", "operator": "!=", "value": long}, set(metas) - {"a", "h"}),
        ({"field": "meta.v", "operator": "not in", "value": [long, None]}, {"b", "c", "d", "e", "g"}),
        ({"field": "meta.v.k", "operator": "==", "value": long}, {"g"}),
        ({"field": "meta.v", "operator": "==", "value": "x" * 2999}, set()),
    ]
    for filters, expected in cases:
        assert {doc.id for doc in store.filter_documents(filters)} == expected, filters
        assert kept_by_index(store, filters) == expected, filters


def test_what_may_differ_is_left_to_sqlite(tmp_path):
    store = make_store(tmp_path, random.Random(1), protocol=True)
    for filters in (
        {"field": "content", "operator": "<", "value": "2020-01-01"},
        {"field": "content", "operator": "==", "value": 3},  # the text column's affinity makes it '3'
        {"field": "id", "operator": "==", "value": 3},  # the id column's affinity makes it '3'
        {"field": "id", "operator": "<", "value": "2020-01-01"},
        {"field": "meta.year", "operator": ">", "value": float("inf")},
        {"operator": "AND", "conditions": [{"field": "meta.lang", "operator": "==", "value": "en"}, {"field": "content", "operator": ">", "value": 5}]},
    ):
        assert kept_by_index(store, filters) is None, filters


@pytest.mark.parametrize("probe", [5, 1], ids=["answered by the probe", "answered while scoring"])
def test_structural_filters_are_decided_by_the_index_and_rank_as_sqlite(tmp_path, monkeypatch, probe):
    from store import document_store

    monkeypatch.setattr(document_store, "_PROBE", probe)
    store = make_store(tmp_path, random.Random(8), protocol=False)  # a store where 6 pass
    filters = {"operator": "AND", "conditions": [
        {"field": "meta.split_id", "operator": "<", "value": 2.5},
        {"field": "meta.split_idx_start", "operator": "<=", "value": 20},  # the same passages: 10 x split_id
        {"field": "meta.file_path", "operator": "in", "value": ["/docs/1.txt", "/docs/3.txt"]},
        {"field": "meta.lang", "operator": "!=", "value": "de"},
    ]}
    assert kept_by_index(store, filters) is not None
    from store.search_index import Snapshot

    restricted = []
    search = Snapshot.search
    monkeypatch.setattr(Snapshot, "search", lambda self, *a, **k: restricted.append(k.get("only") is not None) or search(self, *a, **k))
    # Every passage holds "common", and several have the same text (equal scores, which the
    # two engines order differently): the top 6 are all that pass.
    expected = store.bm25_retrieval("common word1 word2", top_k=6, filters=filters, engine="fts5")
    found = store.bm25_retrieval("common word1 word2", top_k=6, filters=filters)
    assert restricted == ([False] if probe == 5 else [False, True])  # the probe, then (if too few passed it) the filtered search
    assert len(expected) == 6 and {d.id for d in found} == {d.id for d in expected}
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)
    assert all(d.meta["split_id"] < 2.5 and d.meta["split_idx_start"] <= 20 and d.meta["file_path"] in ("/docs/1.txt", "/docs/3.txt") and d.meta.get("lang") != "de" for d in found)


NUMBERS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False))


@given(NUMBERS, NUMBERS)
@example(-0.0, 0)
@example(-0.5, -1)
@example(2**63 - 1, 9.223372036854775807e18)
@example(-1e300, -(2**63))
def test_order_keys_sort_as_the_numbers_do(a, b):
    # Python compares ints with floats exactly, as SQLite does.
    assert (order_key(a) < order_key(b)) == (a < b)
    assert (order_key(a) == order_key(b)) == (a == b)
    assert set(order_key(a)) <= set("0123456789abcdefmp")  # what tantivy's query parser reads bare


def test_dates_and_numbers_on_json_keys_are_decided_by_the_index_in_sqlites_order(tmp_path):
    store = SQLiteDocumentStore(tmp_path / "d.db")
    published = {"a": "2020-01-01T00:00:00.5", "b": "2019-12-31 23:59", "c": "2020-01-02T01:00:00+02:00", "d": 2458850.0, "e": "soon", "f": None}
    rank = {"a": 10, "b": 2.5, "c": "11", "d": [1], "e": -3, "f": True}
    store.write_documents([Document(id=i, content="common", meta={"published": published[i], "rank": rank[i]}) for i in published]
                          + [Document(id="g", content="common", meta={"other": 1})])

    def kept(filters):
        found = kept_by_index(store, filters)
        assert found == {doc.id for doc in store.filter_documents(filters)}
        return found

    # julianday(): an offset moves c to 2020-01-01 23:00; 2458850.0 is 2020-01-01 12:00.
    assert kept({"field": "meta.published", "operator": ">=", "value": "2020-01-01"}) == {"a", "c", "d"}
    assert kept({"field": "meta.published", "operator": "<", "value": "2020-01-01T12:00:00"}) == {"a", "b"}
    # Text and arrays are greater than every number to SQLite; true is 1.
    assert kept({"field": "meta.rank", "operator": ">", "value": 2.5}) == {"a", "c", "d"}
    assert kept({"field": "meta.rank", "operator": "<=", "value": 1}) == {"e", "f"}
    assert kept({"field": "id", "operator": "not in", "value": ["a", "e", "zz"]}) == {"b", "c", "d", "f", "g"}
    # None: a missing key or a JSON null.
    assert kept({"field": "meta.rank", "operator": "in", "value": [None, 10]}) == {"a", "g"}
    assert kept({"field": "meta.published", "operator": "==", "value": None}) == {"f", "g"}
    assert kept({"field": "meta.rank", "operator": "!=", "value": None}) == {"a", "b", "c", "d", "e", "f"}


def test_ranges_keep_exactly_what_sqlite_keeps_at_every_bound(tmp_path):
    # Values in clusters (equal integer parts, equal days, one bucket of the finest coarse
    # level) and bounds drawn from the values themselves, so that ranges start and end inside
    # buckets, on a value, and between two close ones.
    rng = random.Random(3)
    numbers = [*range(-3, 4), 2**62, -(2**62), 1e300, -1e-300, 0.1, 0.30000000000000004]
    numbers += [rng.choice([1, -1]) * rng.choice([rng.randint(0, 40), rng.randint(0, 10**6), rng.random() * 10, 2019 + rng.random()]) for _ in range(150)]
    days = ["2020-01-01", "2020-01-01 00:00:00.001", "2020-01-01T23:59:59", "2020-01-02", "12:00", "2019-12-31T12:00:00-13:00", 2458849.5]
    days += [f"20{rng.randint(0, 25):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}" for _ in range(100)]
    store = SQLiteDocumentStore(tmp_path / "r.db")
    store.write_documents([Document(id=f"v{i}", content="common", meta={"v": v}) for i, v in enumerate(numbers)]
                          + [Document(id=f"d{i}", content="common", meta={"d": d}) for i, d in enumerate(days)])
    filters = [{"field": "meta.v", "operator": op, "value": v} for v in [*numbers[:40], 0.5, -0.0, 2019.5, 1e-9] for op in OPERATORS[4:]]
    filters += [{"field": "meta.d", "operator": op, "value": d} for d in [*days[:20], "2020-01-01T00:00:00.0005", "2019-12-31T23:59:59.999+00:00"]
                if isinstance(d, str) and d[0] == "2" for op in OPERATORS[4:]]
    for f in filters:
        assert kept_by_index(store, f) == {doc.id for doc in store.filter_documents(f)}, f
