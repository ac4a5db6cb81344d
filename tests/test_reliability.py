"""Crash safety, Ctrl-C, concurrent readers and writers, hostile PDFs (CI-sized versions)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from store.document_store import SQLiteDocumentStore
from tests.corpus import page_text, write_corpus, write_pdf
from tests.reliability import consistency_problems, snapshot

REPO = Path(__file__).resolve().parents[1]


def index_process(folder: Path, db: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "index", str(folder), "--db", str(db), *extra],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reliability") / "docs"
    write_corpus(folder, pdfs=60, texts=30, pages=4, seed=7)
    reference_db = folder.parent / "reference.db"
    process = index_process(folder, reference_db, "--workers", "2")
    process.communicate()
    assert process.returncode == 0
    return folder, snapshot(reference_db)


def test_sigkill_at_random_moments_leaves_a_consistent_database(corpus, tmp_path):
    folder, reference = corpus
    db = tmp_path / "killed.db"
    rng = random.Random(1)
    for _ in range(3):
        process = index_process(folder, db, "--workers", "2")
        time.sleep(rng.uniform(0.6, 2.0))
        process.send_signal(signal.SIGKILL)
        # communicate() returns once every holder of the pipes has exited: the conversion
        # workers notice that their indexer is gone and exit too.
        process.communicate(timeout=60)
        if db.exists():
            assert consistency_problems(db, reference) == []
    finish = index_process(folder, db, "--workers", "2")
    finish.communicate()
    assert finish.returncode == 0
    assert consistency_problems(db, reference) == [] and snapshot(db) == reference


def test_ctrl_c_stops_after_the_files_in_flight_with_a_summary(corpus, tmp_path):
    folder, reference = corpus
    db = tmp_path / "interrupted.db"
    process = index_process(folder, db, "--workers", "2")
    deadline = time.time() + 30
    while not (db.exists() and snapshot(db)) and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1].startswith("interrupted"), stderr
    assert consistency_problems(db, reference) == []
    assert len(snapshot(db)) > 0


def test_asking_while_indexing_reads_committed_files_without_lock_errors(corpus, tmp_path):
    folder, reference = corpus
    db = tmp_path / "busy.db"
    SQLiteDocumentStore(db).close()  # the schema exists before the reader starts
    process = index_process(folder, db, "--workers", "2")
    reader = SQLiteDocumentStore(db, create=False)
    errors, seen = [], 0
    while process.poll() is None:
        try:
            docs = reader.bm25_retrieval("river mountain archive", top_k=5)
            committed = {path for path in snapshot(db)}
            assert all(d.meta["file_path"] in committed for d in docs)
            seen += len(docs)
        except Exception as exc:  # any error here is the failure under test
            errors.append(repr(exc))
        time.sleep(0.02)
    process.communicate()
    assert errors == [] and seen > 0
    assert snapshot(db) == reference


def test_two_indexers_on_one_database(corpus, tmp_path):
    folder, reference = corpus
    db = tmp_path / "two.db"
    first, second = index_process(folder, db, "--workers", "1"), index_process(folder, db, "--workers", "1")
    outputs = first.communicate(timeout=300), second.communicate(timeout=300)
    assert (first.returncode, second.returncode) == (0, 0), outputs
    assert consistency_problems(db, reference) == [] and snapshot(db) == reference


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A damaged copy of a PDF: bytes flipped, truncated, or a section duplicated."""
    kind = rng.choice(["flip", "truncate", "duplicate", "flip+truncate"])
    out = bytearray(data)
    if "flip" in kind:
        for _ in range(rng.randint(1, 20)):
            out[rng.randrange(len(out))] = rng.randrange(256)
    if "truncate" in kind:
        out = out[: rng.randrange(1, len(out))]
    if kind == "duplicate":
        start = rng.randrange(len(out))
        end = min(len(out), start + rng.randint(1, 2000))
        at = rng.randrange(len(out))
        out[at:at] = out[start:end]
    return bytes(out)


def test_fuzzed_pdfs_never_crash_hang_or_leave_partial_data(tmp_path):
    rng = random.Random(20261121)
    seeds = [write_pdf(tmp_path / f"seed{i}.pdf", [page_text(rng, f"Seed {i} page {p}", 10) for p in range(3)]).read_bytes() for i in range(5)]
    folder = tmp_path / "fuzz"
    folder.mkdir()
    for case in range(250):
        (folder / f"case{case:03d}.pdf").write_bytes(mutate(rng.choice(seeds), rng))
    store = SQLiteDocumentStore(tmp_path / "fuzz.db")
    started = time.time()
    report = index_paths(store, [folder], IngestOptions(workers=2, timeout_s=20), show_progress=False)
    assert time.time() - started < 300
    assert report.indexed + report.failed == 250
    assert all(f.error for f in report.failures)
    assert consistency_problems(tmp_path / "fuzz.db", snapshot(tmp_path / "fuzz.db")) == []
    states = store.file_states()
    indexed = {path for path in snapshot(tmp_path / "fuzz.db")}
    assert {p for p, s in states.items() if s.status == "indexed"} == indexed
