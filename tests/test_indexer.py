from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

import ingest.indexer
import ingest.worker
from ingest.convert import convert
from ingest.indexer import index_paths
from tests.corpus import write_bad_files, write_corpus, write_pdf


def passages_by_file(store):
    by_file = {}
    for doc in store.filter_documents():
        by_file.setdefault(doc.meta["file_path"], []).append(doc)
    return by_file


def assert_passages_cover(store, paths):
    by_file = passages_by_file(store)
    for path in paths:
        text = convert(Path(path), Path(path).read_bytes()).text
        docs = sorted(by_file[path], key=lambda d: d.meta["split_id"])
        covered = set()
        for doc in docs:
            start = doc.meta["split_idx_start"]
            assert text[start : start + len(doc.content)] == doc.content
            assert doc.meta["page_number"] == (1 + text.count("\f", 0, start) if path.endswith(".pdf") else None)
            covered.update(range(start, start + len(doc.content)))
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace()), path


def test_index_good_and_bad_files_with_worker_processes(tmp_path, store, options):
    written = write_corpus(tmp_path / "docs", pdfs=6, texts=4)
    expected_failures = write_bad_files(tmp_path / "docs" / "bad")
    report = index_paths(store, [tmp_path / "docs"], dataclasses.replace(options, workers=2), show_progress=False)
    assert (report.indexed, report.unchanged, report.failed, report.removed) == (10, 0, 8, 0)
    failures = {Path(f.path).name: f.error for f in report.failures}
    assert set(failures) == set(expected_failures)
    for name, reason in expected_failures.items():
        assert failures[name].startswith(reason), (name, failures[name])
    assert store.integrity_check() == ["ok"]
    assert_passages_cover(store, list(written))
    assert report.passages == store.count_documents()
    stats = store.stats()
    assert (stats.files, stats.failed, stats.pages) == (10, 8, 18)
    assert {Path(f.path).name for f in stats.failures} == set(expected_failures)


def test_known_text_on_known_pages(tmp_path, store, options):
    pages = [" ".join(f"p{page}w{i}" for i in range(70)) for page in (1, 2, 3)]
    path = write_pdf(tmp_path / "a.pdf", pages)
    index_paths(store, [path], options, show_progress=False)
    docs = store.filter_documents()
    # Every word names its page, so a passage's first word says which page it starts on.
    # The second passage ends at the page break (a boundary near its target length).
    assert [(d.content.split()[0], d.content.split()[-1], d.meta["page_number"]) for d in docs] == [
        ("p1w0", "p1w39", 1),
        ("p1w32", "p1w69", 1),
        ("p1w62", "p2w31", 1),
        ("p2w24", "p2w63", 2),
        ("p2w56", "p3w25", 2),
        ("p3w18", "p3w57", 3),
        ("p3w50", "p3w69", 3),
    ]
    assert sum("\f" in d.content for d in docs) == 2  # two passages run across a page break


def test_reindex_parses_nothing_and_change_reindexes_one_file(tmp_path, store, options, monkeypatch):
    write_corpus(tmp_path / "docs", pdfs=3, texts=3)
    write_bad_files(tmp_path / "docs" / "bad")
    first = index_paths(store, [tmp_path / "docs"], options, show_progress=False)
    before = {d.id: d for d in store.filter_documents()}

    calls = []
    real_convert = ingest.worker.convert
    monkeypatch.setattr(ingest.worker, "convert", lambda *a: calls.append(a[0]) or real_convert(*a))
    again = index_paths(store, [tmp_path / "docs"], options, show_progress=False)
    assert calls == []
    # Every file that could be read is unchanged; the dangling symlink cannot even be hashed.
    assert (again.indexed, again.unchanged, again.failed) == (0, first.indexed + first.failed - 1, 1)

    note = tmp_path / "docs" / "notes" / "note0001.txt"
    note.write_text("A completely new note about lanterns.", encoding="utf-8")
    third = index_paths(store, [tmp_path / "docs"], options, show_progress=False)
    assert [Path(c).name for c in calls] == ["note0001.txt"]
    assert (third.indexed, third.passages) == (1, 1)
    after = store.filter_documents({"field": "meta.file_path", "operator": "==", "value": str(note)})
    assert [d.content for d in after] == ["A completely new note about lanterns."]
    unchanged_ids = {d.id for d in store.filter_documents()} - {d.id for d in after}
    assert unchanged_ids == {i for i, d in before.items() if d.meta["file_path"] != str(note)}


def test_changed_split_settings_reindex(tmp_path, store, options):
    write_corpus(tmp_path / "docs", pdfs=1, texts=1)
    index_paths(store, [tmp_path / "docs"], options, show_progress=False)
    report = index_paths(store, [tmp_path / "docs"], dataclasses.replace(options, split_length=60), show_progress=False)
    assert (report.indexed, report.unchanged) == (2, 0)


def test_file_that_turns_bad_loses_its_passages(tmp_path, store, options):
    path = tmp_path / "a.txt"
    path.write_text("Some good text here.", encoding="utf-8")
    index_paths(store, [path], options, show_progress=False)
    path.write_bytes(b"")
    report = index_paths(store, [path], options, show_progress=False)
    assert [(f.path, f.error) for f in report.failures] == [(str(path), "empty file")]
    assert store.count_documents() == 0


def test_prune_removes_only_vanished_files_under_the_given_paths(tmp_path, store, options):
    write_corpus(tmp_path / "a", pdfs=0, texts=2)
    write_corpus(tmp_path / "b", pdfs=0, texts=2)
    index_paths(store, [tmp_path / "a", tmp_path / "b"], options, show_progress=False)
    gone = tmp_path / "a" / "md" / "note0000.md"
    os.remove(gone)
    os.remove(tmp_path / "b" / "md" / "note0000.md")
    kept = index_paths(store, [tmp_path / "a"], options, show_progress=False)
    assert kept.removed == 0
    report = index_paths(store, [tmp_path / "a"], options, prune=True, show_progress=False)
    assert report.removed == 1
    assert str(gone) not in store.file_states()
    assert str(tmp_path / "b" / "md" / "note0000.md") in store.file_states()


def test_include_and_exclude_globs(tmp_path, store, options):
    (tmp_path / "keep.TXT").write_text("upper case suffix", encoding="utf-8")
    (tmp_path / "skip.csv").write_text("a,b", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.txt").write_text("hidden", encoding="utf-8")
    index_paths(store, [tmp_path], options, show_progress=False)
    assert list(store.file_states()) == [str(tmp_path / "keep.TXT")]


def test_timeout_is_reported_and_batch_goes_on(tmp_path, store, options, monkeypatch):
    (tmp_path / "slow.txt").write_text("slow file", encoding="utf-8")
    (tmp_path / "fine.txt").write_text("fine file", encoding="utf-8")
    real_convert = ingest.worker.convert

    def slow(path, data, *encoding):
        if path.name == "slow.txt":
            while True:
                pass
        return real_convert(path, data, *encoding)

    monkeypatch.setattr(ingest.worker, "convert", slow)
    report = index_paths(store, [tmp_path], dataclasses.replace(options, timeout_s=0.3), show_progress=False)
    assert [(Path(f.path).name, f.error) for f in report.failures] == [("slow.txt", "conversion took longer than 0.3 s (ingest.timeout_s)")]
    assert report.indexed == 1


def test_unreadable_folder_is_reported(tmp_path, store, options, monkeypatch):
    (tmp_path / "ok.txt").write_text("fine", encoding="utf-8")
    real_walk = os.walk

    def walk(top, onerror=None, **kw):
        onerror(PermissionError(13, "Permission denied", str(tmp_path / "locked")))
        yield from real_walk(top, onerror=onerror, **kw)

    monkeypatch.setattr("ingest.files.os.walk", walk)
    report = index_paths(store, [tmp_path], options, show_progress=False)
    assert [(f.path, f.error) for f in report.failures] == [(str(tmp_path / "locked"), "cannot read folder: Permission denied")]
    assert report.indexed == 1


@pytest.fixture
def streamed(monkeypatch):
    """Names of the files that go through the streaming path."""
    names = []
    real = ingest.indexer._save_streamed

    def spy(store, report, path, *args):
        names.append(Path(path).name)
        return real(store, report, path, *args)

    monkeypatch.setattr(ingest.indexer, "_save_streamed", spy)
    return names


def test_large_text_files_are_streamed_into_exactly_the_passages_of_a_whole_read(tmp_path, options, monkeypatch, streamed):
    from store.document_store import SQLiteDocumentStore
    from tests.corpus import write_large_text

    monkeypatch.setattr("ingest.text._CHUNK", 4096)  # many chunks, however small the file
    big = write_large_text(tmp_path / "big.txt", 0.25, seed=3)
    (tmp_path / "small.md").write_text("A small file, converted whole.", encoding="utf-8")
    results = {}
    for mode, above_mb, expect_streamed in (("whole", 100.0, []), ("streamed", 0.1, ["big.txt"])):
        store = SQLiteDocumentStore(tmp_path / f"{mode}.db")
        streamed.clear()
        report = index_paths(store, [tmp_path], dataclasses.replace(options, stream_text_above_mb=above_mb), show_progress=False)
        assert streamed == expect_streamed
        assert (report.indexed, report.failed) == (2, 0)
        assert report.passages == store.count_documents() > 100
        results[mode] = [(d.meta["file_path"], d.meta["split_id"], d.meta["split_idx_start"], d.content) for d in store.filter_documents()]
        record = store.get_file_by_path(str(big))
        assert (record.sha256, record.size) == (hashlib.sha256(big.read_bytes()).hexdigest(), big.stat().st_size)
        assert store.integrity_check() == ["ok"]
        store.close()
    assert sorted(results["streamed"]) == sorted(results["whole"])


def test_a_streamed_file_that_fails_midway_leaves_nothing_of_it(tmp_path, store, options, monkeypatch):
    options = dataclasses.replace(options, stream_text_above_mb=0.0)
    (tmp_path / "a.txt").write_text("First file, indexed whole. " * 30, encoding="utf-8")
    (tmp_path / "b.txt").write_text("Second file, words and words. " * 300, encoding="utf-8")
    index_paths(store, [tmp_path / "a.txt", tmp_path / "b.txt"], options, show_progress=False)
    before = sorted(d.id for d in store.filter_documents())

    # The file is changed while it is read: the bytes converted no longer match its hash.
    (tmp_path / "b.txt").write_text("Second file, changed. " * 300, encoding="utf-8")
    monkeypatch.setattr("ingest.indexer.sha256_file", lambda path: "0" * 64)
    report = index_paths(store, [tmp_path / "b.txt"], options, show_progress=False)
    assert [(Path(f.path).name, f.error) for f in report.failures] == [
        ("b.txt", "the file changed while it was being indexed: run `docqa index` again")
    ]
    assert {d.meta["file_path"] for d in store.filter_documents()} == {str(tmp_path / "a.txt")}
    monkeypatch.undo()

    # Ctrl-C after some passages were read: the file's transaction is rolled back whole.
    index_paths(store, [tmp_path / "b.txt"], options, show_progress=False)
    kept = sorted(d.id for d in store.filter_documents())
    real_split_stream = ingest.indexer.split_stream

    def interrupted(*args, **kwargs):
        for i, split in enumerate(real_split_stream(*args, **kwargs)):
            if i == 20:
                raise KeyboardInterrupt
            yield split

    monkeypatch.setattr("ingest.indexer.split_stream", interrupted)
    (tmp_path / "b.txt").write_text("Second file, changed again. " * 300, encoding="utf-8")
    report = index_paths(store, [tmp_path / "b.txt"], options, show_progress=False)
    assert report.interrupted and report.indexed == 0
    assert sorted(d.id for d in store.filter_documents()) == kept != before
    assert store.integrity_check() == ["ok"]


def test_streamed_bad_files_are_reported_and_the_batch_goes_on(tmp_path, store, options, streamed):
    (tmp_path / "binary.txt").write_bytes(b"\x01\x02\x03\x04 junk " * 10_000)
    (tmp_path / "blank.md").write_bytes(b" \n" * 50_000)
    (tmp_path / "good.txt").write_text("Good words here. " * 5_000, encoding="utf-8")
    report = index_paths(store, [tmp_path], dataclasses.replace(options, stream_text_above_mb=0.05), show_progress=False)
    assert sorted(streamed) == ["binary.txt", "blank.md", "good.txt"]
    assert sorted((Path(f.path).name, f.error) for f in report.failures) == [
        ("binary.txt", "binary file, not text: docqa reads .pdf, .txt, .md, .docx, .html, .htm, .epub, .png, .jpg, .jpeg, .tif and .tiff"),
        ("blank.md", "empty file (only whitespace)"),
    ]
    assert report.indexed == 1 and {d.meta["file_path"] for d in store.filter_documents()} == {str(tmp_path / "good.txt")}


def test_symlink_loops_are_not_followed(tmp_path, store, options):
    docs = tmp_path / "docs"
    (docs / "inner").mkdir(parents=True)
    (docs / "inner" / "a.txt").write_text("Only once.", encoding="utf-8")
    os.symlink(docs, docs / "inner" / "back-to-top")  # a folder loop
    os.symlink(docs / "loop2.txt", docs / "loop1.txt")  # a file symlink loop
    os.symlink(docs / "loop1.txt", docs / "loop2.txt")
    report = index_paths(store, [docs], options, show_progress=False)
    assert report.indexed == 1
    assert sorted((Path(f.path).name, f.error) for f in report.failures) == [
        ("loop1.txt", "cannot read: Too many levels of symbolic links"),
        ("loop2.txt", "cannot read: Too many levels of symbolic links"),
    ]
    assert [d.meta["file_path"] for d in store.filter_documents()] == [str(docs / "inner" / "a.txt")]
