"""Haystack filters decided by the search index (store.index_filters) keep exactly the passages
SQLite keeps (store.filters), on indexed passages and protocol documents with metadata of every
JSON type; what might mean something else is left to SQLite."""

from __future__ import annotations

import random

import pytest
from haystack import Document

from store.document_store import SQLiteDocumentStore
from store.haystack_compat import FilterError
from store.index_filters import Translator
from store.records import FileInfo

FIELDS = ["meta.lang", "meta.year", "meta.score", "meta.tags", "meta.nested.k", "meta.a.b", "meta.a", "meta.page_number",
          "meta.split_id", "meta.file_id", "meta.file_path", "meta.missing", "meta.split_idx_start", "content", "id"]
VALUES = ["en", "de", "", 2020, 2020.0, "2020", 1, 1.0, True, False, 0, 2.5, -1, None, ["a", "b"], '["a","b"]', "{}",
          "/docs/0.txt", "/docs/1.txt", "/proto/x.txt", 3, "3", 7, "2020-01-01", "x" * 3000]
OPERATORS = ["==", "!=", "in", "not in", "<", "<=", ">", ">="]


def user_meta(rng: random.Random) -> dict:
    meta = {}
    for key, pool in (("lang", ["en", "de", "EN", ""]), ("year", [2019, 2020, 2020.0, "2020", None]), ("score", [0.5, 1, True, False, 2.5]),
                      ("tags", [["a", "b"], ["a"], []]), ("nested", [{"k": "v"}, {"k": 3}, "flat"]), ("a.b", [1, "1"]), ("a", [{"b": 1}, {"b": "1"}])):
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
                **{k: rng.choice(pool) for k, pool in (("page_number", [1, 3, "3", 2.5, None]), ("split_id", [0, 2, "2"]),
                                                      ("file_path", ["/proto/x.txt", "/docs/0.txt", 3]), ("file_id", [1, 2, "1"]))
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


def kept_by_index(store: SQLiteDocumentStore, filters: dict) -> set[str] | None:
    snapshot = store._search.snapshot()
    assert snapshot is not None
    query = Translator(snapshot.schema, store._file_ids_with_path, snapshot.has_key).query(filters)
    if query is None:
        return None
    hits = snapshot.search(["common"], 1_000, only=query)
    return {doc.id for doc in store._documents_by_pk(hits)}


@pytest.mark.parametrize("protocol", [False, True], ids=["indexed passages", "with protocol documents"])
def test_translated_filters_keep_exactly_what_sqlite_keeps(tmp_path, protocol):
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


def test_what_may_differ_is_left_to_sqlite(tmp_path):
    store = make_store(tmp_path, random.Random(1), protocol=True)
    for filters in (
        {"field": "content", "operator": "==", "value": "common word1"},
        {"field": "id", "operator": "==", "value": "p1"},
        {"field": "meta.lang", "operator": "==", "value": None},
        {"field": "meta.tags", "operator": "==", "value": ["a", "b"]},
        {"field": "meta.tags", "operator": "==", "value": '["a","b"]'},
        {"field": "meta.year", "operator": ">", "value": 2019},  # a JSON key: its values may be of any type
        {"field": "meta.page_number", "operator": "<", "value": 3},  # protocol documents hold it in their JSON
        {"field": "meta.split_idx_start", "operator": "==", "value": 10},
        {"field": "meta.file_path", "operator": ">", "value": "2020-01-01"},
        {"operator": "AND", "conditions": [{"field": "meta.lang", "operator": "==", "value": "en"}, {"field": "content", "operator": "!=", "value": ""}]},
    ):
        assert kept_by_index(store, filters) is None, filters


@pytest.mark.parametrize("probe", [5, 1], ids=["answered by the probe", "answered while scoring"])
def test_structural_filters_are_decided_by_the_index_and_rank_as_sqlite(tmp_path, monkeypatch, probe):
    from store import document_store

    monkeypatch.setattr(document_store, "_PROBE", probe)
    store = make_store(tmp_path, random.Random(2), protocol=False)
    filters = {"operator": "AND", "conditions": [
        {"field": "meta.split_id", "operator": "<", "value": 2.5},
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
    assert all(d.meta["split_id"] < 2.5 and d.meta["file_path"] in ("/docs/1.txt", "/docs/3.txt") and d.meta.get("lang") != "de" for d in found)
