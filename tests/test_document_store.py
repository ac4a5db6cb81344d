"""SQLiteDocumentStore against Haystack's own conformance tests, plus docqa's additions."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from haystack import Document
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.testing.document_store import (
    CountDocumentsTest,
    DeleteDocumentsTest,
    FilterDocumentsTest,
    WriteDocumentsTest,
)

from store import FileInfo, SQLiteDocumentStore, SchemaVersionError, StoreError
from store.errors import DatabaseMissingError, OutOfRangeError


@pytest.fixture
def document_store(tmp_path):
    store = SQLiteDocumentStore(tmp_path / "conformance.db")
    yield store
    store.close()


class TestConformance(CountDocumentsTest, WriteDocumentsTest, DeleteDocumentsTest, FilterDocumentsTest):
    def test_write_documents(self, document_store):
        # Our default policy (NONE) behaves as FAIL.
        doc = Document(content="test doc")
        assert document_store.write_documents([doc]) == 1
        with pytest.raises(DuplicateDocumentError):
            document_store.write_documents([doc])
        assert document_store.filter_documents() == [doc]


def _passages(texts, page=1):
    out, start = [], 0
    for i, text in enumerate(texts):
        out.append(Document(content=text, meta={"split_id": i, "split_idx_start": start, "page_number": page, "topic": "t"}))
        start += len(text) + 1
    return out


def test_save_file_round_trips_structural_meta(document_store):
    info = FileInfo("/docs/a.pdf", "ab" * 32, 10, 1.0)
    file_id = document_store.save_file(info, pages=3, passages=_passages(["alpha beta", "gamma"], page=2))
    docs = document_store.filter_documents()
    assert [d.content for d in docs] == ["alpha beta", "gamma"]
    assert docs[1].meta == {
        "topic": "t",
        "file_path": "/docs/a.pdf",
        "file_id": file_id,
        "page_number": 2,
        "split_id": 1,
        "split_idx_start": 11,
    }
    assert document_store.filter_documents({"field": "meta.file_path", "operator": "==", "value": "/docs/a.pdf"}) == docs
    assert document_store.filter_documents({"field": "meta.split_id", "operator": ">", "value": 0}) == docs[1:]


def test_save_file_replaces_passages_and_keeps_fts_in_step(document_store):
    info = FileInfo("/docs/a.txt", "0" * 64, 10, 1.0)
    document_store.save_file(info, None, _passages(["old words here", "more old words"]))
    document_store.save_file(info, None, _passages(["new text"]))
    assert [d.content for d in document_store.filter_documents()] == ["new text"]
    assert document_store.integrity_check() == ["ok"]
    with sqlite3.connect(document_store.path) as raw:
        assert raw.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'old'").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM passages_fts WHERE passages_fts MATCH 'new'").fetchone() == (1,)


def test_failed_write_leaves_nothing(document_store):
    info = FileInfo("/docs/a.txt", "0" * 64, 10, 1.0)
    document_store.save_file(info, None, _passages(["kept passage"]))
    broken = _passages(["one", "two"])
    broken[1].meta.pop("split_idx_start")
    with pytest.raises(KeyError):
        document_store.save_file(info, None, broken)
    assert [d.content for d in document_store.filter_documents()] == ["kept passage"]


def test_failure_drops_old_passages_and_is_listed(document_store):
    info = FileInfo("/docs/a.pdf", "1" * 64, 10, 1.0)
    document_store.save_file(info, 1, _passages(["x y z"]))
    document_store.save_failure(FileInfo("/docs/a.pdf", "2" * 64, 12, 2.0), "/docs/a.pdf: encrypted PDF")
    stats = document_store.stats()
    assert (stats.files, stats.failed, stats.passages) == (0, 1, 0)
    assert [(f.path, f.error) for f in stats.failures] == [("/docs/a.pdf", "/docs/a.pdf: encrypted PDF")]


def test_remove_files(document_store):
    document_store.save_file(FileInfo("/a.txt", "a" * 64, 1, 1.0), None, _passages(["a"]))
    document_store.save_file(FileInfo("/b.txt", "b" * 64, 1, 1.0), None, _passages(["b"]))
    assert document_store.remove_files(["/a.txt", "/missing.txt"]) == 1
    assert [d.content for d in document_store.filter_documents()] == ["b"]
    assert list(document_store.file_states()) == ["/b.txt"]


def test_to_dict_from_dict(tmp_path):
    store = SQLiteDocumentStore(tmp_path / "x.db")
    data = store.to_dict()
    assert data == {"type": "store.document_store.SQLiteDocumentStore", "init_parameters": {"path": str(tmp_path / "x.db")}}
    assert SQLiteDocumentStore.from_dict(data).path == store.path


def test_wal_mode_and_schema_version(tmp_path):
    SQLiteDocumentStore(tmp_path / "x.db").close()
    with sqlite3.connect(tmp_path / "x.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (1,)


def test_many_openers_of_one_new_database_all_succeed(tmp_path):
    # Two `docqa index` runs started together on a new --db: each sees an empty file and
    # creates it. Before the fix about 1 in 17 rounds failed, either on "database is locked"
    # (SQLite refuses one of two simultaneous WAL switches without waiting) or on "schema
    # version 0" (the checks straddled the other's schema commit).
    errors: list[str] = []

    def open_and_close(db, barrier):
        barrier.wait()
        try:
            SQLiteDocumentStore(db).close()
        except StoreError as exc:
            errors.append(str(exc))

    for round in range(200):
        db, barrier = tmp_path / f"new{round}.db", threading.Barrier(4)
        threads = [threading.Thread(target=open_and_close, args=(db, barrier)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    with sqlite3.connect(tmp_path / "new199.db") as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT count(*) FROM sqlite_master WHERE name = 'passages'").fetchone() == (1,)


def test_other_schema_version_is_refused(tmp_path):
    SQLiteDocumentStore(tmp_path / "x.db").close()
    with sqlite3.connect(tmp_path / "x.db") as raw:
        raw.execute("PRAGMA user_version = 7")
    with pytest.raises(SchemaVersionError) as err:
        SQLiteDocumentStore(tmp_path / "x.db")
    assert str(err.value) == (
        f"{tmp_path / 'x.db'} has schema version 7, this docqa reads version 1: "
        "index into a new database (--db NEW.db) or use the docqa release that wrote it"
    )


def test_foreign_sqlite_and_junk_files_are_refused(tmp_path):
    with sqlite3.connect(tmp_path / "other.db") as raw:
        raw.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="is an SQLite database but not a docqa one"):
        SQLiteDocumentStore(tmp_path / "other.db")
    (tmp_path / "junk.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="is not a usable SQLite database"):
        SQLiteDocumentStore(tmp_path / "junk.db")


def test_missing_database_for_readers(tmp_path):
    with pytest.raises(DatabaseMissingError) as err:
        SQLiteDocumentStore(tmp_path / "none.db", create=False)
    assert str(err.value) == f"no database at {tmp_path / 'none.db'}: run `docqa index PATH` first (or pass --db)"
    assert not (tmp_path / "none.db").exists()


def test_list_get_and_delete_files(document_store):
    a = document_store.save_file(FileInfo("/docs/a.pdf", "a" * 64, 10, 1.0), 2, _passages(["one", "two"]))
    document_store.save_failure(FileInfo("/docs/b.pdf", "b" * 64, 5, 1.0), "encrypted PDF")
    page, total = document_store.list_files(offset=0, limit=1)
    assert total == 2 and [(f.path, f.status, f.passages, f.pages) for f in page] == [("/docs/a.pdf", "indexed", 2, 2)]
    second, _ = document_store.list_files(offset=1, limit=10)
    assert [(f.path, f.status, f.error, f.passages) for f in second] == [("/docs/b.pdf", "failed", "encrypted PDF", 0)]
    assert document_store.get_file(a).path == "/docs/a.pdf" and document_store.get_file(999) is None
    assert document_store.get_file_by_path("/docs/a.pdf").id == a and document_store.get_file_by_path("/x") is None
    assert document_store.has_passages()
    assert [d.content for d in document_store.file_passages(a)] == ["one", "two"]
    assert document_store.delete_file(a) is True and document_store.delete_file(a) is False
    assert document_store.count_documents() == 0 and document_store.integrity_check() == ["ok"]
    assert not document_store.has_passages()


TOO_BIG, TOO_SMALL = 2**63, -(2**63) - 1


@pytest.mark.parametrize("value", [TOO_BIG, TOO_SMALL])
def test_integers_sqlite_cannot_hold_are_refused_by_name(document_store, value):
    # Before, sqlite3 raised OverflowError ("Python int too large to convert to SQLite
    # INTEGER"), which the HTTP API answered with a 500.
    document_store.write_documents([Document(content="alpha", meta={"page_number": 1})])
    limits = f"must be between -9223372036854775808 and 9223372036854775807 (SQLite's integer range), got {value}"
    calls = {
        "file_id": [lambda: document_store.get_file(value), lambda: document_store.delete_file(value), lambda: document_store.file_passages(value)],
        "offset": [lambda: document_store.list_files(offset=value)],
        "limit": [lambda: document_store.list_files(limit=value)],
        "file_ids": [lambda: document_store.bm25_retrieval("alpha", 5, file_ids=[1, value])],
    }
    for name, functions in calls.items():
        for call in functions:
            with pytest.raises(OutOfRangeError) as err:
                call()
            assert err.value.name == name and str(err.value) == f"{name} {limits}"
    if value > 0:
        with pytest.raises(OutOfRangeError) as err:
            document_store.bm25_retrieval("alpha", value)
        assert str(err.value) == f"top_k {limits}"
    for filters in (
        {"field": "meta.page_number", "operator": "==", "value": value},
        {"field": "meta.page_number", "operator": ">", "value": value},
        {"operator": "OR", "conditions": [{"field": "meta.page_number", "operator": "in", "value": [1, value]}]},
    ):
        for call in (lambda: document_store.filter_documents(filters), lambda: document_store.bm25_retrieval("alpha", 5, filters)):
            with pytest.raises(OutOfRangeError) as err:
                call()
            assert err.value.name == "filters" and str(err.value) == f"the value compared with 'meta.page_number' {limits}"
    # The extremes SQLite holds are accepted, and JSON meta keeps any integer.
    assert document_store.get_file(2**63 - 1) is None and document_store.list_files(offset=2**63 - 1)[0] == []
    assert document_store.filter_documents({"field": "meta.page_number", "operator": "<", "value": -(2**63)}) == []
    document_store.write_documents([Document(id="big", content="beta", meta={"page_number": value})])
    assert document_store.filter_documents({"field": "id", "operator": "==", "value": "big"})[0].meta == {"page_number": value}


def test_file_ids_are_never_reused(document_store):
    first = document_store.save_file(FileInfo("/docs/a.txt", "a" * 64, 1, 1.0), None, _passages(["one"]))
    assert document_store.delete_file(first)
    second = document_store.save_file(FileInfo("/docs/a.txt", "a" * 64, 1, 1.0), None, _passages(["one"]))
    document_store.remove_files(["/docs/a.txt"])
    third = document_store.save_file(FileInfo("/docs/b.txt", "b" * 64, 1, 1.0), None, _passages(["two"]))
    assert first < second < third


V1_DATABASE = Path(__file__).with_name("data") / "schema-v1.sqlite"


def _contents(db):
    with sqlite3.connect(db) as raw:
        files = raw.execute("SELECT * FROM files ORDER BY id").fetchall()
        passages = raw.execute("SELECT * FROM passages ORDER BY pk").fetchall()
        fts = raw.execute("SELECT rowid FROM passages_fts WHERE passages_fts MATCH 'planets OR railway OR ferry OR lighthouse' ORDER BY rowid").fetchall()
        sql = raw.execute("SELECT sql FROM sqlite_master WHERE name = 'files'").fetchone()[0]
    return files, passages, fts, sql


def test_database_of_the_previous_layout_is_upgraded_in_place(tmp_path):
    # tests/data/schema-v1.sqlite was written by docqa before files.id had AUTOINCREMENT
    # (commit a936957): 5 files indexed from a folder (one failed PDF), the one with id 2
    # forgotten, and a document written through the DocumentStore protocol.
    db = tmp_path / "old.db"
    shutil.copy(V1_DATABASE, db)
    files, passages, fts, sql = _contents(db)
    assert "AUTOINCREMENT" not in sql and [f[0] for f in files] == [1, 3, 4, 5] and len(passages) == 7 and fts
    store = SQLiteDocumentStore(db, create=False)
    after = _contents(db)
    # Every row kept, each passage with the new next_page_spans column, NULL (none known).
    assert after[:3] == (files, [row + (None,) for row in passages], fts) and "AUTOINCREMENT" in after[3]
    assert store.integrity_check() == ["ok"]
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (1,)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    # Passages still belong to their files and are found; a deleted file still takes its passages.
    solar = store.get_file_by_path(next(f[1] for f in files if f[1].endswith("solar-system.md")))
    assert solar.id == 5 and len(store.file_passages(5)) == solar.passages == 3
    assert any(d.meta["file_id"] == 5 for d in store.bm25_retrieval("planets", 3))
    # New ids continue above the highest one, and a deleted id is not handed out again.
    new = store.save_file(FileInfo("/docs/new.txt", "c" * 64, 1, 1.0), None, _passages(["lighthouse keeper"]))
    assert new == 6 and store.delete_file(5) and store.delete_file(new)
    assert store.count_documents() == 4 and store.integrity_check() == ["ok"]
    assert store.save_file(FileInfo("/docs/again.txt", "d" * 64, 1, 1.0), None, _passages(["ferry"])) == 7
    store.close()
    # Opening it again changes nothing.
    before = _contents(db)
    SQLiteDocumentStore(db).close()
    assert _contents(db) == before


def test_upgrade_by_many_openers_at_once(tmp_path):
    errors: list[str] = []
    db, barrier = tmp_path / "old.db", threading.Barrier(4)
    shutil.copy(V1_DATABASE, db)
    files = _contents(db)[0]

    def open_and_close():
        barrier.wait()
        try:
            SQLiteDocumentStore(db).close()
        except StoreError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and _contents(db)[0] == files and "AUTOINCREMENT" in _contents(db)[3]


def test_an_upgrade_that_fails_half_way_changes_nothing(tmp_path, monkeypatch):
    from sqlalchemy import event

    from store import schema

    db = tmp_path / "old.db"
    shutil.copy(V1_DATABASE, db)
    before = _contents(db)
    create_engine = schema.create_engine

    def failing_engine(url):
        engine = create_engine(url)

        @event.listens_for(engine, "before_cursor_execute")
        def crash(conn, cursor, statement, *args):
            if statement.startswith("DROP TABLE files"):  # the new table is filled by now
                raise RuntimeError("killed")

        return engine

    monkeypatch.setattr(schema, "create_engine", failing_engine)
    with pytest.raises(StoreError, match="killed"):
        SQLiteDocumentStore(db)
    assert _contents(db) == before
    monkeypatch.undo()
    SQLiteDocumentStore(db).close()
    files, passages, fts, _ = before
    assert _contents(db)[:3] == (files, [row + (None,) for row in passages], fts)


@pytest.mark.parametrize("key", ["café", "x😀", "a\\b", "tab\there", "naïve.année"])
def test_metadata_keys_beyond_ascii_letters_are_filtered_on(document_store, key):
    # The JSON column stores such keys escaped ("caf\u00e9"), which a path label must match.
    nested = key.split(".")
    meta = {nested[0]: {nested[1]: 1}} if len(nested) == 2 else {key: 1}
    document_store.write_documents([Document(content="alpha", meta=meta), Document(content="beta", meta={"other": 1})])
    found = document_store.filter_documents({"field": f"meta.{key}", "operator": "==", "value": 1})
    assert [d.content for d in found] == ["alpha"]
    assert [d.content for d in document_store.bm25_retrieval("alpha beta", 5, {"field": f"meta.{key}", "operator": "!=", "value": 1})] == ["beta"]


@pytest.mark.parametrize("values", [["x"], ["x", "y"]])
def test_not_in_keeps_what_in_leaves_out(document_store, values):
    # With one value SQLAlchemy 2.1 negated `a IS 'x'` into `a IS 'x'`: `not in` kept what `in` kept.
    document_store.write_documents([Document(id="x", content="alpha", meta={"k": "x"}), Document(id="1", content="alpha", meta={"k": 1}),
                                    Document(id="none", content="alpha", meta={})])
    kept = document_store.filter_documents({"field": "meta.k", "operator": "not in", "value": values})
    assert sorted(d.id for d in kept) == ["1", "none"]


@pytest.mark.parametrize("key", ['a"b', "a\x00b"])
def test_metadata_keys_sqlite_paths_cannot_name_are_a_filter_error(document_store, key):
    # A NUL made SQLite refuse the JSON path (an OperationalError, a 500 over HTTP); a quote
    # ended the path's label early, so the filter silently matched nothing.
    from haystack.errors import FilterError

    document_store.write_documents([Document(content="alpha", meta={key: 1})])
    for call in (document_store.filter_documents, lambda f: document_store.bm25_retrieval("alpha", 5, f)):
        with pytest.raises(FilterError, match="cannot be filtered on"):
            call({"field": f"meta.{key}", "operator": "==", "value": 1})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), [1.0, float("-inf")]], ids=["nan", "inf", "in a list"])
def test_nan_and_infinity_in_meta_are_refused_and_nothing_is_written(document_store, value):
    batch = [Document(id="fine", content="x"), Document(id="bad", content="y", meta={"score": value})]
    with pytest.raises(ValueError) as refused:
        document_store.write_documents(batch)
    assert str(refused.value) == (
        "document 'bad': its meta or embedding holds NaN or infinity, which JSON cannot hold; store such a value as a string or None"
    )
    assert document_store.count_documents() == 0
    # Filters still work over what the store holds.
    document_store.write_documents([Document(id="ok", content="z", meta={"score": 1.5})])
    assert [d.id for d in document_store.filter_documents({"field": "meta.score", "operator": ">", "value": 1})] == ["ok"]
