"""Crash safety, Ctrl-C, concurrent readers and writers, hostile PDFs (CI-sized versions)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.indexer import index_paths
from ingest.options import IngestOptions
from store.document_store import SQLiteDocumentStore
from store.errors import StoreError
from tests.corpus import FILLER, page_text, write_corpus, write_large_text, write_pdf
from tests.reliability import consistency_problems, snapshot

REPO = Path(__file__).resolve().parents[1]


def index_process(folder: Path, db: Path, *extra: str, log: Path | None = None) -> subprocess.Popen:
    """`docqa index` in a process of its own; its output goes to pipes, or to `log` for a
    caller that polls it instead of reading the pipes (a full pipe would block the process)."""
    command = [sys.executable, "-m", "pipeline.cli", "index", str(folder), "--db", str(db), *extra]
    if log is None:
        return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_as_in_a_terminal)
    with log.open("w") as output:
        return subprocess.Popen(command, cwd=REPO, stdout=output, stderr=subprocess.STDOUT, text=True, preexec_fn=ctrl_c_as_in_a_terminal)


def ctrl_c_as_in_a_terminal() -> None:
    # A shell starts a background job (`.ci/run &`) with SIGINT ignored, and children inherit
    # that: the Ctrl-C tests would then test nothing. A terminal's Ctrl-C is SIGINT's default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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


def test_a_database_caught_before_its_schema_commits_reads_as_empty(tmp_path):
    # The moment between SQLite creating the file and the indexer's schema transaction
    # committing: what a reader (or a kill) can catch. CI once caught it.
    db = tmp_path / "new.db"
    sqlite3.connect(db).close()
    with pytest.raises(StoreError) as err:
        SQLiteDocumentStore(db, create=False)
    assert str(err.value) == f"{db} is an empty database: run `docqa index PATH` first"
    assert snapshot(db) == {} and consistency_problems(db, {"a.txt": [(0, None, 0, "x")]}) == []


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


def test_docqa_ask_and_the_api_answer_while_docqa_index_writes(corpus, tmp_path, tiny_model):
    # The whole path a user takes, reader included: `docqa ask` processes and HTTP requests
    # run against the database while another process indexes into it.
    from fastapi.testclient import TestClient

    from pipeline.serve.app import create_app
    from pipeline.config import AskConfig, Config, ReaderConfig, StoreConfig
    from pipeline.qa import QA

    folder, reference = corpus
    db = tmp_path / "live.db"
    first = sorted(folder.rglob("*.txt"))[0]
    assert index_process(first, db).wait() == 0  # one file, so the API starts ready
    config = tmp_path / "docqa.yaml"
    config.write_text(
        f"store:\n  path: {db}\nreader:\n  model: {tiny_model}\ningest:\n  stream_text_above_mb: 8\nask:\n  min_score: 0.0\n", encoding="utf-8"
    )
    questions = tmp_path / "questions.txt"
    questions.write_text("".join(f"Where is the {w} archive?\n" for w in ("river", "harbor", "summit", "copper")), encoding="utf-8")

    # The processes write to files, not pipes: nothing reads them until a process ends, and
    # on a machine with many pipes open Linux gives new pipes one page (4 KB), which a few
    # answers fill (the process then blocks on its write and never ends).
    def ask_process() -> subprocess.Popen:
        with (tmp_path / "ask.out").open("w") as out, (tmp_path / "ask.err").open("w") as err:
            return subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", "ask", "--batch", str(questions), "--config", str(config)],
                cwd=REPO, stdout=out, stderr=err, text=True,
            )

    def index_more(run: int) -> subprocess.Popen:
        # A large text file keeps the indexer writing (streamed, in one long transaction)
        # for seconds; while no `docqa ask` process has finished within the indexing, another
        # large file follows (machines differ in how fast they index and start Python, so
        # the test goes by a deadline, not by a count of files).
        # Its words are ones no question asks about: once committed, it does not make every
        # later question slower (BM25 over tens of thousands of matching passages).
        large = write_large_text(tmp_path / f"large{run}.txt", 16, seed=run, words=FILLER)
        larges.append(str(large))
        first_run_only = [str(folder)] if run == 0 else []
        return index_process(large, db, *first_run_only, "--workers", "2", "--config", str(config), log=tmp_path / "index.log")

    # The tiny model's answers are noise that ask.min_score would refuse: always answer here.
    qa = QA(Config(store=StoreConfig(path=str(db)), reader=ReaderConfig(model=str(tiny_model)), ask=AskConfig(min_score=0.0)))
    larges: list[str] = []
    process, runs = index_more(0), 1
    deadline = time.monotonic() + 300
    asker = ask_process()
    api_answers, cli_runs_during_indexing, failures = 0, 0, []
    with TestClient(create_app(qa.config, qa)) as client:
        while True:
            if process.poll() is not None:
                assert process.returncode == 0, (tmp_path / "index.log").read_text()
                if cli_runs_during_indexing or time.monotonic() > deadline:
                    break
                process, runs = index_more(runs), runs + 1
            response = client.post("/ask", json={"question": "Which river passes the mountain archive?", "top_k": 5})
            committed = set(snapshot(db))  # taken after the answer: files only ever get added
            if response.status_code != 200:
                failures.append(f"API {response.status_code}: {response.text}")
            else:
                files = {a["file"] for a in response.json()["answers"]}
                if not files <= committed:
                    failures.append(f"API answered from uncommitted files {files - committed}")
                api_answers += len(files)
            if asker.poll() is not None:
                out, err = (tmp_path / "ask.out").read_text(), (tmp_path / "ask.err").read_text()
                rows = [json.loads(line) for line in out.splitlines()]
                if asker.returncode != 0 or len(rows) != 4 or any("error" in r for r in rows):
                    failures.append(f"docqa ask exited {asker.returncode}: {err.strip().splitlines()[-1:]}")
                elif not {a["file"] for r in rows for a in r["answers"]} <= set(snapshot(db)):
                    failures.append("docqa ask answered from uncommitted files")
                cli_runs_during_indexing += process.poll() is None
                asker = ask_process()
            time.sleep(0.2)  # leave the cores to the indexer and the `docqa ask` process
    asker.wait()
    print(f"{runs} indexing runs; {cli_runs_during_indexing} `docqa ask` runs within them")
    assert failures == []
    assert api_answers > 0 and cli_runs_during_indexing >= 1
    final = snapshot(db)
    assert {path: final[path] for path in reference} == reference
    assert all(len(final[large]) > 5_000 for large in larges)


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


def test_a_worker_whose_indexer_died_before_it_started_exits():
    # The parent's pid is handed over by the parent: a worker that starts after its indexer
    # was killed must not take whoever adopted it for its parent and wait forever.
    code = "import time; from ingest.worker import _init_worker; _init_worker(1024, 2**22 + 1); time.sleep(60)"
    finished = subprocess.run([sys.executable, "-c", code], cwd=REPO, timeout=30)
    assert finished.returncode == 1


def peak_rss_mb(command: list[str], **kwargs) -> tuple[float, subprocess.CompletedProcess]:
    """Run `command` under a fresh Python that reports its child's peak resident memory."""
    probe = (
        "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
        "sys.stderr.write(done.stderr); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(done.returncode)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True, **kwargs)
    return int(done.stdout.split()[-1]) / 1024, done


def test_a_large_text_file_is_indexed_in_flat_memory(tmp_path):
    from tests.corpus import write_large_text

    big = write_large_text(tmp_path / "big.txt", 24)
    config = tmp_path / "config.yaml"
    config.write_text("ingest:\n  stream_text_above_mb: 1\n", encoding="utf-8")
    peak, done = peak_rss_mb([sys.executable, "-m", "pipeline.cli", "index", str(big), "--db", str(tmp_path / "x.db"), "--config", str(config)], cwd=REPO)
    assert done.returncode == 0, done.stderr
    # Measured: 224 MB streamed, the same as for a 40 MB file; read whole, this file took 637 MB.
    assert peak < 350, f"peak RSS {peak:.0f} MB"
    assert snapshot(tmp_path / "x.db")[str(big)][-1][2] > 24_000_000  # offsets run to the end of the file


def expected_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("Error:", "stopped:"))]


def test_a_file_size_limit_stops_indexing_with_a_clear_error_and_loses_nothing(corpus, tmp_path):
    import resource

    folder, reference = corpus
    db = tmp_path / "limited.db"

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

    process = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "index", str(folder), "--db", str(db), "--workers", "1"],
        cwd=REPO, capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300,
    )
    assert process.returncode == 1
    stopped, error = expected_lines(process.stderr)
    assert stopped.startswith("stopped: ") and " indexed (" in stopped
    assert error == (
        f"Error: cannot read or write database {db} (disk I/O error, SQLITE_IOERR_WRITE), often a full disk or a "
        "file-size limit (`ulimit -f`); what was written before is kept and the database is unharmed. Free some space "
        "or raise the limit and run the command again"
    )
    assert consistency_problems(db, reference) == []
    assert 0 < len(snapshot(db)) < len(reference)
    finish = index_process(folder, db, "--workers", "2")
    finish.communicate()
    assert finish.returncode == 0 and snapshot(db) == reference


@pytest.fixture
def small_disk(tmp_path):
    """A 300 KB filesystem (tmpfs), where SQLite meets a real ENOSPC; needs mount rights."""
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mountpoint)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up: {mounted.stderr.strip() or mounted.returncode}")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


def test_a_full_disk_stops_indexing_with_a_clear_error_and_loses_nothing(corpus, small_disk):
    folder, reference = corpus
    db = small_disk / "full.db"
    process = index_process(folder, db, "--workers", "1")
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    assert expected_lines(stderr)[-1] == (
        f"Error: cannot write to database {db}: the disk is full (database or disk is full, SQLITE_FULL); what was "
        "written before is kept and the database is unharmed. Free some space and run the command again"
    )
    assert consistency_problems(db, reference) == []
    assert 0 < len(snapshot(db)) < len(reference)
    subprocess.run(["mount", "-o", "remount,size=50m", str(small_disk)], check=True)
    finish = index_process(folder, db, "--workers", "2")
    finish.communicate()
    assert finish.returncode == 0 and snapshot(db) == reference


@pytest.fixture
def read_only_view(tmp_path):
    """A folder and a read-only view of it: a read-only bind mount as root (root writes to any
    file whatever its mode), the folder itself with its write bits cleared otherwise."""
    folder = tmp_path / "rw"
    folder.mkdir()
    if os.geteuid() != 0:

        def clear_write_bits():
            for path in folder.iterdir():
                path.chmod(0o444)
            folder.chmod(0o555)

        yield folder, folder, clear_write_bits
        folder.chmod(0o755)
        return
    view = tmp_path / "ro"
    view.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(folder), str(view)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount a read-only view of a folder: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder, view, lambda: subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_a_read_only_database_refuses_writes_clearly_and_stays_intact(read_only_view, tmp_path):
    folder, view, make_read_only = read_only_view
    (tmp_path / "a.txt").write_text("Alpha words here.", encoding="utf-8")
    assert index_process(tmp_path / "a.txt", folder / "x.db").wait() == 0
    before = snapshot(folder / "x.db")
    make_read_only()
    (tmp_path / "a.txt").write_text("Alpha words changed.", encoding="utf-8")
    db = view / "x.db"
    process = index_process(tmp_path / "a.txt", db)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    cause = "unable to open database file, SQLITE_CANTOPEN" if os.geteuid() == 0 else "attempt to write a readonly database, SQLITE_READONLY_DIRECTORY"
    assert expected_lines(stderr) == [
        f"Error: cannot write to database {db} ({cause}): it is read-only here, and docqa needs write access to the "
        "file and to its folder (SQLite keeps -wal and -shm files beside it); fix the permissions, or copy it somewhere writable"
    ]
    assert snapshot(folder / "x.db") == before
    assert consistency_problems(folder / "x.db", before) == []


def test_a_pdf_of_thousands_of_pages(tmp_path):
    pages = [f"Page {n} begins. " + " ".join(f"w{n}x{i}" for i in range(45)) for n in range(1, 2001)]
    path = write_pdf(tmp_path / "thick.pdf", pages)
    store = SQLiteDocumentStore(tmp_path / "thick.db")
    report = index_paths(store, [path], IngestOptions(split_length=40, split_overlap=8, workers=0), show_progress=False)
    assert (report.indexed, report.failed) == (1, 0)
    assert store.get_file_by_path(str(path)).pages == 2000
    docs = store.filter_documents()
    # Every word names its page, so each passage's first word says which page it starts on.
    for doc in docs:
        first = doc.content.split()[0]
        expected = int(first[1:].split("x")[0]) if first.startswith("w") else int(doc.content.split()[1])
        assert doc.meta["page_number"] == expected, doc.content[:40]
    assert {d.meta["page_number"] for d in docs} == set(range(1, 2001))
