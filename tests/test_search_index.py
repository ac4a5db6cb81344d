"""The tantivy index beside the database (store.search_index): exact ranking, restrictions,
and catching up with SQLite after whatever it missed, including a real kill -9."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from haystack import Document

from store.document_store import SQLiteDocumentStore
from store.records import FileInfo
from store.search_index import SearchIndex
from store.terms import query_words, terms

REPO = Path(__file__).resolve().parents[1]
WORDS = "river seine paris kestrel locomotive glasgow coffee grind espresso saturn rings ice viaduct arches flood mars volcano".split()


def save(store, path, texts, *, pages=None):
    docs = [
        Document(content=t, meta={"file_path": path, "split_id": i, "split_idx_start": i * 1000, "page_number": None if pages is None else pages[i]})
        for i, t in enumerate(texts)
    ]
    store.save_file(FileInfo(path, f"{abs(hash((path, tuple(texts)))):064x}"[:64], 1, 1.0), None, docs)


def random_corpus(store, rng, files=6, per_file=15, words=(3, 30)):
    for f in range(files):
        save(store, f"/docs/{'ab'[f % 2]}/{f}.txt", [" ".join(rng.choice(WORDS + ["the", "of", "a"]) for _ in range(rng.randint(*words))) for _ in range(per_file)])


def lucene_bm25(store, question, k1=1.2, b=0.75):
    """Every passage's BM25 with Lucene's IDF, ln(1 + (N - n + 0.5) / (n + 0.5)), computed
    by brute force over docqa's terms: what tantivy must rank by."""
    passages = store.filter_documents()
    tokens = {d.id: terms(d.content) for d in passages}
    n_docs = len(passages)
    average = sum(map(len, tokens.values())) / n_docs
    stems = list(dict.fromkeys(s for w in query_words(question) for s in terms(w)))
    frequency = {s: sum(s in set(t) for t in tokens.values()) for s in stems}
    scores = {}
    for doc_id, doc_tokens in tokens.items():
        counts = Counter(doc_tokens)
        score = 0.0
        for s in stems:
            tf = counts[s]
            if tf:
                idf = math.log(1 + (n_docs - frequency[s] + 0.5) / (frequency[s] + 0.5))
                score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(doc_tokens) / average))
        if score > 0:
            scores[doc_id] = score
    return scores


@pytest.mark.parametrize("question", ["coffee grind espresso", "Which locomotive came from Glasgow?", "river of the flood", "the of a"])
def test_ranking_is_exact_lucene_bm25(store, question):
    random_corpus(store, random.Random(5))
    reference = lucene_bm25(store, question)
    found = store.bm25_retrieval(question, top_k=10)
    assert len(found) == min(10, len(reference))
    for doc in found:
        assert doc.score == pytest.approx(reference[doc.id], rel=1e-5)
    # The top 10 are the 10 best (ties aside): nothing left out scores above the last one kept.
    assert max((s for i, s in reference.items() if i not in {d.id for d in found}), default=0) <= found[-1].score * (1 + 1e-5)


def best(scores, k):
    """The ids of the `k` best of `scores`, and the k-th score (ties at it may go either way)."""
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    return {i for i, _ in ranked[:k]}, ranked[min(k, len(ranked)) - 1][1]


def test_the_top_k_is_exact_lucene_bm25_where_tantivy_rounds_lengths(store):
    # Passages of 41 to 400 terms: tantivy keeps such a length rounded down (up to 1/8), so its
    # own top 10 is not always BM25's; docqa's is (store.exact_top), in tantivy's order.
    rng = random.Random(6)
    random_corpus(store, rng, files=6, per_file=25, words=(41, 400))
    # Passages twice (in two files), whose equal scores tie near the cut: a tie is decided
    # with the rest, not kept before a passage that scores more.
    copies = [d.content for d in rng.sample(store.filter_documents(), 40)]
    save(store, "/docs/copies.txt", copies)
    differs = 0
    for question in ("coffee grind espresso", "river of the flood kestrel", "nowhere coffee", "saturn rings", "mars volcano ice", "glasgow"):
        reference = lucene_bm25(store, question)
        expected, kth = best(reference, 10)
        found = store.bm25_retrieval(question, top_k=10)
        assert len(found) == 10 and [d.score for d in found] == sorted((d.score for d in found), reverse=True)
        ids = {d.id for d in found}
        assert all(reference[i] == pytest.approx(kth, rel=1e-6) for i in ids ^ expected), question
        stems = list(dict.fromkeys(s for w in query_words(question) for s in terms(w)))
        alone = {d.id for d in store._documents_by_pk(store._search.snapshot().search(stems, 10))}
        differs += alone != expected
        # A filter: the exact top among the passages it keeps.
        keeps = {"field": "meta.split_id", "operator": ">=", "value": 12}
        allowed = {d.id for d in store.filter_documents(keeps)}
        expected, kth = best({i: v for i, v in reference.items() if i in allowed}, 5)
        ids = {d.id for d in store.bm25_retrieval(question, top_k=5, filters=keeps)}
        assert all(reference[i] == pytest.approx(kth, rel=1e-6) for i in ids ^ expected), question
    assert differs  # else this corpus shows nothing


def test_every_restriction_is_the_unrestricted_ranking_filtered(store):
    rng = random.Random(8)
    random_corpus(store, rng, files=8, per_file=40)
    ids = {p: s.id for p, s in store.file_states().items()}
    question = "coffee grind seine"
    everything = store.bm25_retrieval(question, top_k=10_000)
    restrictions = [
        dict(paths=["/docs/a/*"]),
        dict(paths=["/docs/*/3.txt"]),  # 1 file in 8: the first query cannot find 5 of them
        dict(file_ids=[ids["/docs/b/1.txt"], ids["/docs/a/6.txt"]]),
        dict(filters={"field": "meta.split_id", "operator": "<", "value": 3}),  # 3 passages in 40
        dict(filters={"field": "meta.split_id", "operator": ">=", "value": 5}),
        dict(paths=["/docs/b/*"], filters={"field": "meta.split_id", "operator": "in", "value": [1, 2, 30]}),
    ]
    for restriction in restrictions:
        allowed = {d.id for d in store.bm25_retrieval(question, top_k=10_000, engine="fts5", **restriction)}
        expected = [d.id for d in everything if d.id in allowed][:5]
        assert [d.id for d in store.bm25_retrieval(question, top_k=5, **restriction)] == expected, restriction
    assert store.bm25_retrieval(question, top_k=5, paths=["/nowhere/*"]) == []


def test_a_filter_is_probed_only_where_it_may_keep_many(store, monkeypatch):
    from store import index_filters
    from store.search_index import Snapshot

    # The index counts a range's values on an integer column only for a bound under _COUNTED:
    # for none here, so that `uncounted` is a range it cannot bound (`counted` is a set of
    # values, always counted).
    monkeypatch.setattr(index_filters, "_COUNTED", 0)

    rng = random.Random(8)
    random_corpus(store, rng, files=8, per_file=40)
    limits = []
    real_search = Snapshot.search

    def search(self, stems, top_k, **restrictions):
        limits.append((top_k, bool(restrictions)))
        return real_search(self, stems, top_k, **restrictions)

    monkeypatch.setattr(Snapshot, "search", search)
    counted = {"field": "meta.split_id", "operator": "in", "value": [0, 1]}  # 2 passages in 40, by the index's counts
    uncounted = {"field": "meta.split_id", "operator": ">", "value": 37}  # 2 in 40 too, but a range the index does not count
    broad = {"field": "meta.split_id", "operator": ">=", "value": 2}
    untranslatable = {"field": "content", "operator": ">", "value": 5}  # an ordering on content: SQLite decides it
    first = True
    for question in ("coffee grind seine", "river flood"):
        everything = [d.id for d in store.bm25_retrieval(question, top_k=10_000)]
        for filters in (counted, uncounted, broad, untranslatable):
            allowed = {d.id for d in store.bm25_retrieval(question, top_k=10_000, engine="fts5", filters=filters)}
            expected = [i for i in everything if i in allowed][:5]
            for _ in range(2):
                limits.clear()
                assert [d.id for d in store.bm25_retrieval(question, top_k=5, filters=filters)] == expected, (question, filters)
                if filters is counted:
                    assert limits == [(10, True)]  # straight into tantivy's query (2 x top_k for the exact top: store.exact_top), even the first time
                elif filters is uncounted:
                    # The first time, the probe (25 unrestricted: 1 or 2 pass), then the filter in
                    # tantivy's query; after that, for any question, the filter alone.
                    assert limits == ([(25, False), (10, True)] if first else [(10, True)])
                    first = False
                else:
                    assert limits[0] == (25, False)  # a broad filter, or one SQLite decides: probed each time
    # A change to the database forgets what the probe found.
    save(store, "/docs/new.txt", ["coffee grind seine"])
    limits.clear()
    store.bm25_retrieval("river flood", top_k=5, filters=uncounted)
    assert limits[0] == (25, False)


def test_a_probe_reads_sqlite_once_and_only_the_answer_where_tantivy_decides_the_filter(store):
    from sqlalchemy import event

    random_corpus(store, random.Random(8), files=8, per_file=40)
    reads = []

    def read(conn, cursor, sql, parameters, *rest):
        if "FROM passages" in sql:  # (the others: is the index current?)
            reads.append(json.loads(parameters[0]) if "json_each" in sql else sql)

    event.listen(store._engine, "before_cursor_execute", read)
    # A quarter of the passages by the index's counts: the probe is 3 x top_k / 0.25 = 60
    # passages, checked 1.5 x top_k / 0.25 = 30 at a time. tantivy decides this filter, so
    # SQLite reads only the 5 rows of the answer. An ordering on `content` is SQLite's (here
    # text after '5': every passage), probed on the unrestricted best 5 x top_k = 25: the
    # statement that decides it on them also reads the rows the answer needs.
    quarter = {"field": "meta.split_id", "operator": "<", "value": 10}
    untranslatable = {"field": "content", "operator": ">", "value": 5}
    for question in ("coffee grind seine", "river flood"):
        everything = [d.id for d in store.bm25_retrieval(question, top_k=10_000)]
        for filters, probed in ((quarter, 5), (untranslatable, 25)):
            allowed = {d.id for d in store.bm25_retrieval(question, top_k=10_000, engine="fts5", filters=filters)}
            expected = [i for i in everything if i in allowed][:5]
            reads.clear()
            found = store.bm25_retrieval(question, top_k=5, filters=filters)
            assert [d.id for d in found] == expected
            assert all(d.content for d in found)
            assert len(reads) == 1 and len(reads[0]) == probed, (filters, reads)
            assert {d.meta["split_id"] for d in found} <= set(range(10)) or filters is untranslatable


def test_follows_replacement_deletion_forget_and_the_protocol(store):
    save(store, "/a.txt", ["The Kestrel locomotive came from Glasgow.", "Coffee needs a fine grind."])
    save(store, "/b.txt", ["Saturn has rings of ice."])
    assert [d.meta["file_path"] for d in store.bm25_retrieval("kestrel", 5)] == ["/a.txt"]
    save(store, "/a.txt", ["Espresso needs a fine grind."])  # replaced: the locomotive is gone
    assert store.bm25_retrieval("kestrel", 5) == []
    assert [d.content for d in store.bm25_retrieval("grind", 5)] == ["Espresso needs a fine grind."]
    store.write_documents([Document(id="p1", content="A kestrel is a small falcon.")])
    assert [d.id for d in store.bm25_retrieval("kestrel", 5)] == ["p1"]
    store.delete_documents(["p1"])
    assert store.remove_files(["/b.txt"]) == 1
    assert store.bm25_retrieval("kestrel saturn", 5) == []
    assert store.delete_file(store.get_file_by_path("/a.txt").id)
    assert store.bm25_retrieval("grind", 5) == [] and store.search_index_check() == ["ok"]


def test_catches_up_on_open_with_what_a_crash_left_unapplied(tmp_path, monkeypatch):
    db = tmp_path / "docqa.db"
    first = SQLiteDocumentStore(db)
    save(first, "/a.txt", ["Coffee needs a fine grind."])
    # A process killed after SQLite committed but before the index applied the change:
    monkeypatch.setattr(SearchIndex, "after_write", lambda self: None)
    save(first, "/b.txt", ["Espresso needs a fine grind too."])
    first.remove_files(["/a.txt"])
    monkeypatch.undo()
    reopened = SQLiteDocumentStore(db)
    assert [d.meta["file_path"] for d in reopened.bm25_retrieval("grind", 5)] == ["/b.txt"]
    assert reopened.search_index_check() == ["ok"]


def test_a_commit_that_landed_unrecorded_is_not_applied_twice(tmp_path):
    db = tmp_path / "docqa.db"
    store = SQLiteDocumentStore(db)
    save(store, "/a.txt", ["Coffee needs a fine grind."])
    save(store, "/b.txt", ["Espresso needs a fine grind too."])
    # Killed between tantivy's commit and the record of it: the record still names the
    # previous change, with the window it was applying.
    record = Path(f"{db}.tantivy") / "docqa-index.json"
    state = json.loads(record.read_text())
    record.write_text(json.dumps({**state, "applied": 1, "applying": state["applied"]}))
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO passage_changes(pk, op) SELECT pk, 0 FROM passages")
    reopened = SQLiteDocumentStore(db)
    assert sorted(d.meta["file_path"] for d in reopened.bm25_retrieval("grind", 5)) == ["/a.txt", "/b.txt"]
    assert reopened.search_index_check() == ["ok"]


@pytest.mark.parametrize("damage", ["folder", "record", "files"])
def test_a_lost_or_damaged_index_is_rebuilt_from_the_database(tmp_path, damage):
    db = tmp_path / "docqa.db"
    store = SQLiteDocumentStore(db)
    save(store, "/a.txt", ["Coffee needs a fine grind.", "The Kestrel locomotive came from Glasgow."])
    store.close()
    folder = Path(f"{db}.tantivy")
    if damage == "folder":
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    elif damage == "record":
        (folder / "docqa-index.json").write_text("{")
    else:
        for child in folder.glob("*.idx"):
            child.unlink()  # a segment's postings gone
    reopened = SQLiteDocumentStore(db)
    assert [d.content for d in reopened.bm25_retrieval("kestrel", 5)] == ["The Kestrel locomotive came from Glasgow."]
    assert reopened.search_index_check() == ["ok"]


def test_an_index_left_by_another_database_at_the_same_path_is_rebuilt(tmp_path):
    db = tmp_path / "docqa.db"
    first = SQLiteDocumentStore(db)
    save(first, "/old.txt", ["Coffee needs a fine grind.", "Saturn has rings."])
    first.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)  # the database deleted, its index folder left
    second = SQLiteDocumentStore(db)
    save(second, "/new.txt", ["Espresso needs a fine grind too.", "Mars has a volcano."])
    assert [d.meta["file_path"] for d in second.bm25_retrieval("grind saturn", 5)] == ["/new.txt"]
    assert second.search_index_check() == ["ok"]


def test_a_database_made_before_the_index_gets_one(tmp_path):
    db = tmp_path / "old.db"
    store = SQLiteDocumentStore(db)
    save(store, "/a.txt", ["Coffee needs a fine grind."])
    store.close()
    with sqlite3.connect(db) as conn:  # as the release before it left databases
        for trigger in ("passage_changes_ai", "passage_changes_ad", "passage_changes_au"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE passage_changes")
        conn.execute("DROP TABLE database_id")
    for child in Path(f"{db}.tantivy").iterdir():
        child.unlink()
    reopened = SQLiteDocumentStore(db)
    assert [d.meta["file_path"] for d in reopened.bm25_retrieval("grind", 5)] == ["/a.txt"]
    save(reopened, "/b.txt", ["Espresso needs a fine grind too."])
    assert len(reopened.bm25_retrieval("grind", 5)) == 2 and reopened.search_index_check() == ["ok"]


def test_while_another_process_holds_the_writer_fts5_answers(tmp_path):
    db = tmp_path / "docqa.db"
    writer = SQLiteDocumentStore(db)
    reader = SQLiteDocumentStore(db)
    with writer.bulk():
        save(writer, "/a.txt", ["Coffee needs a fine grind."])  # in SQLite; the index is behind and locked
        assert [d.meta["file_path"] for d in reader.bm25_retrieval("grind", 5)] == ["/a.txt"]
        assert reader.search_index_check() == ["the search index is being written by another process: not checked"]
    assert reader.search_index_check() == ["ok"]


def test_an_index_that_cannot_be_written_leaves_fts5_to_answer(tmp_path, monkeypatch, caplog):
    import tantivy

    db = tmp_path / "docqa.db"
    store = SQLiteDocumentStore(db)
    save(store, "/a.txt", ["Coffee needs a fine grind."])

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tantivy.Index, "writer", full_disk)
    save(store, "/b.txt", ["Espresso needs a fine grind too."])  # committed in SQLite all the same
    assert "cannot update the search index" in caplog.text and "No space left on device" in caplog.text
    assert sorted(d.meta["file_path"] for d in store.bm25_retrieval("grind", 5)) == ["/a.txt", "/b.txt"]
    monkeypatch.undo()
    assert store.search_index_check() == ["ok"]


def test_a_long_bulk_hands_the_index_to_a_follower_process_and_takes_it_back(tmp_path, monkeypatch):
    import store.search_index as search_index

    monkeypatch.setattr(search_index, "BULK_CHANGES", 30)  # due at 30 changes: a long run
    store = SQLiteDocumentStore(tmp_path / "docqa.db")
    rng = random.Random(4)
    with store.bulk():
        random_corpus(store, rng, files=2, per_file=10)
        assert store._search._follower is None  # 20 changes: the indexing process applies them
        random_corpus(store, rng, files=4, per_file=10)
        process, _ = store._search._follower
        assert process.is_alive()
    assert not process.is_alive() and process.exitcode == 0
    assert store._search._follower is None
    assert store.search_index_check(sample=20) == ["ok"]
    for word in ("kestrel", "coffee", "river"):
        assert {d.id for d in store.bm25_retrieval(word, 1_000)} == {d.id for d in store.bm25_retrieval(word, 1_000, engine="fts5")}


def _files_stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM files").fetchone()[0]
    except sqlite3.Error:  # not made yet, or locked a moment
        return 0


def test_kill_9_while_indexing_then_ask_finds_what_sqlite_holds(tmp_path, tiny_model):
    folder = tmp_path / "docs"
    folder.mkdir()
    rng = random.Random(2)
    for i in range(300):
        sentences = [" ".join(rng.choice(WORDS) for _ in range(12)) + "." for _ in range(6)]
        (folder / f"{i:03d}.txt").write_text(f"Document {i} about {rng.choice(WORDS)}. " + " ".join(sentences), encoding="utf-8")
    db = tmp_path / "docqa.db"
    # Commits to the index every few changes, so that kills land before, during and after them;
    # each file takes at least 30 ms, so that on a fast machine too a run is still indexing
    # when the files it has stored reach the count it is killed at.
    setup = ("import sys, time, store.search_index as s, ingest.worker as w; s.BULK_CHANGES = 40; convert = w.convert_file; "
             "w.convert_file = lambda path, options: (time.sleep(0.03), convert(path, options))[1]; "
             "from pipeline.cli.main import main; sys.exit(main())")
    command = [sys.executable, "-c", setup, "index", str(folder), "--db", str(db), "--workers", "0"]
    kills = 0
    # Killed once the run has stored some files (a loaded machine may take seconds to start
    # it), then after a delay that lands before, during or after one of its commits.
    for stored, delay in ((20, 0.0), (60, 0.15), (110, 0.3), (170, 0.05)):
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while process.poll() is None and _files_stored(db) < stored and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(delay)
        if process.poll() is None:
            # The indexing process alone (its follower, which applies the log to the index,
            # sees it die and applies what was committed), or with its follower (a commit of
            # the index cut short).
            if kills % 2:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        if db.exists():
            store = SQLiteDocumentStore(db)
            if store.has_passages():
                deadline = time.monotonic() + 60
                while (check := store.search_index_check(sample=30)) != ["ok"] and "another process" in check[0] and time.monotonic() < deadline:
                    time.sleep(0.1)  # a follower left running finishes and lets the writer go
                assert check == ["ok"]
                for word in ("kestrel", "coffee", "document"):
                    ours = {d.id for d in store.bm25_retrieval(word, 100_000)}
                    assert ours == {d.id for d in store.bm25_retrieval(word, 100_000, engine="fts5")}
            store.close()
    assert kills >= 3
    config = tmp_path / "docqa.yaml"
    config.write_text(f"store:\n  path: {db}\nreader:\n  model: {tiny_model}\nask:\n  min_score: 0.0\n", encoding="utf-8")
    asked = subprocess.run([sys.executable, "-m", "pipeline.cli", "ask", "Where did the kestrel locomotive come from?", "--config", str(config), "--json"],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert asked.returncode == 0, asked.stderr
    answers = json.loads(asked.stdout)["answers"]
    store = SQLiteDocumentStore(db)
    passages = {d.id: d.content for d in store.filter_documents()}
    # Every answer is a span of a passage SQLite holds (start/end index the passage's text).
    assert answers and all(passages[a["passage_id"]][a["start"] : a["end"]] == a["answer"] for a in answers)


def test_metadata_edited_in_place_by_another_tool_reaches_the_index(tmp_path):
    db = tmp_path / "edit.db"
    store = SQLiteDocumentStore(db)
    save(store, "/a.txt", ["The Kestrel locomotive came from Glasgow.", "Coffee needs a fine grind."])
    # A database made before the change log logged metadata: its trigger is widened on open.
    raw = sqlite3.connect(db)
    raw.executescript("""DROP TRIGGER passage_changes_au;
        CREATE TRIGGER passage_changes_au AFTER UPDATE OF text, file_id ON passages BEGIN
            INSERT INTO passage_changes(pk, op) VALUES (new.pk, 2);
        END;""")
    raw.close()
    store = SQLiteDocumentStore(db)
    assert store.bm25_retrieval("kestrel locomotive", top_k=5, filters={"field": "meta.lang", "operator": "==", "value": "en"}) == []
    raw = sqlite3.connect(db)
    with raw:
        raw.execute("""UPDATE passages SET meta = json_set(meta, '$."lang"', 'en') WHERE text LIKE '%Kestrel%'""")
    raw.close()
    found = store.bm25_retrieval("kestrel locomotive", top_k=5, filters={"field": "meta.lang", "operator": "==", "value": "en"})
    assert [d.content for d in found] == ["The Kestrel locomotive came from Glasgow."]


def test_the_lengths_tantivy_stores_are_its_table():
    # tantivy's FIELD_NORMS_TABLE (src/fieldnorm/code.rs): its first 80 values and its last.
    from store.exact_top import LENGTHS, stored_length

    assert LENGTHS[:80] == [*range(41), 42, 44, 46, 48, 50, 52, 54, 56, 60, 64, 68, 72, 76, 80, 84, 88, 96, 104, 112, 120, 128, 136,
                             144, 152, 168, 184, 200, 216, 232, 248, 264, 280, 312, 344, 376, 408, 440, 472, 504]
    assert (len(LENGTHS), LENGTHS[-1]) == (256, 2_013_265_944)
    assert [stored_length(n) for n in (40, 41, 43, 44, 150, 152, 167)] == [40, 40, 42, 44, 144, 152, 152]
