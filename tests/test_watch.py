"""`docqa index PATH --watch` and `docqa serve --watch PATH`: the index follows the folder as it changes.

Each test drives real file changes through watchfiles with a deadline: a change must show
in the store within it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.options import IngestOptions
from ingest.watch import apply_changes, watch_paths
from store.document_store import SQLiteDocumentStore
from tests.test_reliability import ctrl_c_as_in_a_terminal

REPO = Path(__file__).resolve().parents[1]
DEADLINE_S = 30


def eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.time() + DEADLINE_S
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE_S} s: {what}")


def indexed(store: SQLiteDocumentStore) -> dict[str, str]:
    return {path: state.status for path, state in store.file_states().items()}


def texts(store: SQLiteDocumentStore, path: Path) -> str:
    record = store.get_file_by_path(str(path))
    return "" if record is None else " ".join(p.content or "" for p in store.file_passages(record.id))


@pytest.fixture
def watching(tmp_path):
    """A folder with one note, watched in a thread; yields (folder, store, batches)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "first.txt").write_text("The ferry leaves at noon.", encoding="utf-8")
    store = SQLiteDocumentStore(tmp_path / "i.db")
    options = IngestOptions(workers=0)
    from ingest.indexer import index_paths

    index_paths(store, [folder], options, workers=0, show_progress=False)
    stop = threading.Event()
    batches: list = []
    thread = threading.Thread(target=watch_paths, args=(store, [folder], options, batches.append), kwargs={"stop": stop, "workers": 0, "debounce_ms": 200})
    thread.start()
    time.sleep(0.5)  # the watch is set up
    yield folder, store, batches
    stop.set()
    thread.join(10)
    assert not thread.is_alive()  # stopping ends it
    store.close()


def test_added_changed_moved_and_deleted_files_are_followed(watching):
    folder, store, batches = watching
    added = folder / "sub" / "second.md"
    added.parent.mkdir()
    added.write_text("Comets are icy bodies.", encoding="utf-8")
    eventually(lambda: indexed(store).get(str(added)) == "indexed", "an added file is indexed")

    (folder / "first.txt").write_text("The ferry now leaves at one.", encoding="utf-8")
    eventually(lambda: "at one" in texts(store, folder / "first.txt"), "a changed file is indexed again")

    moved = folder / "renamed.txt"
    os.rename(folder / "first.txt", moved)
    eventually(lambda: str(moved) in indexed(store) and str(folder / "first.txt") not in indexed(store), "a moved file is indexed under its new name, the old forgotten")

    added.unlink()
    eventually(lambda: str(added) not in indexed(store), "a deleted file is forgotten")
    assert indexed(store) == {str(moved): "indexed"}
    # The watcher reports a batch after the store has changed, so the report can trail the check above.
    eventually(lambda: any(b.forgotten == [str(added)] for b in batches), "the deletion is reported")


def test_a_folder_moved_in_or_removed_is_followed_whole(watching, tmp_path):
    folder, store, _ = watching
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("Alpha notes.", encoding="utf-8")
    (outside / "b.txt").write_text("Beta notes.", encoding="utf-8")
    os.rename(outside, folder / "moved-in")
    eventually(lambda: {str(folder / "moved-in" / "a.txt"), str(folder / "moved-in" / "b.txt")} <= set(indexed(store)), "a folder moved in is indexed")
    import shutil

    shutil.rmtree(folder / "moved-in")
    eventually(lambda: not any("moved-in" in p for p in indexed(store)), "a removed folder's files are forgotten")


def test_excluded_and_other_files_are_not_looked_at(watching):
    folder, store, batches = watching
    (folder / ".hidden.txt").write_text("secret", encoding="utf-8")
    (folder / "table.xyz").write_text("a,b", encoding="utf-8")
    (folder / "seen.txt").write_text("Seen at last.", encoding="utf-8")
    eventually(lambda: str(folder / "seen.txt") in indexed(store), "an included file is indexed")
    time.sleep(0.5)
    assert set(indexed(store)) == {str(folder / "first.txt"), str(folder / "seen.txt")}
    assert all(b.report is None or not b.report.skipped for b in batches)  # the others never reached the indexer


def test_a_bad_file_is_recorded_and_watching_goes_on(watching):
    folder, store, _ = watching
    (folder / "empty.txt").write_bytes(b"")
    eventually(lambda: indexed(store).get(str(folder / "empty.txt")) == "failed", "an empty file is recorded as failed")
    (folder / "empty.txt").write_text("Not empty now.", encoding="utf-8")
    eventually(lambda: indexed(store).get(str(folder / "empty.txt")) == "indexed", "fixed, it is indexed")


def test_apply_changes_indexes_what_is_there_and_forgets_what_is_gone(tmp_path):
    store = SQLiteDocumentStore(tmp_path / "i.db")
    (tmp_path / "a.txt").write_text("Alpha.", encoding="utf-8")
    batch = apply_changes(store, [str(tmp_path / "a.txt")], IngestOptions(workers=0))
    assert batch.report is not None and batch.report.indexed == 1 and batch.forgotten == []
    (tmp_path / "a.txt").unlink()
    batch = apply_changes(store, [str(tmp_path / "a.txt")], IngestOptions(workers=0))
    assert batch.report is None and batch.forgotten == [str(tmp_path / "a.txt")]
    assert batch.summary() == "forgot 1 file gone from disk"


def test_docqa_index_watch_follows_changes_and_ctrl_c_ends_it(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "first.txt").write_text("The ferry leaves at noon.", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "index", str(folder), "--watch", "--json", "--db", str(tmp_path / "i.db"), "--workers", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_as_in_a_terminal,
    )
    try:
        first = json.loads(process.stdout.readline())  # the first run's summary, one line
        assert first["files"]["indexed"] == 1
        time.sleep(1)
        (folder / "second.txt").write_text("Comets are icy bodies.", encoding="utf-8")
        batch = json.loads(process.stdout.readline())
        assert (batch["files"]["indexed"], batch["forgotten"]) == (1, [])
        (folder / "first.txt").unlink()
        batch = json.loads(process.stdout.readline())
        assert batch["forgotten"] == [str(folder / "first.txt")]
    finally:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=DEADLINE_S)
    assert process.returncode == 0, stderr
    assert f"watching {folder} for changes (Ctrl-C stops)\n" in stderr
    assert stderr.endswith("stopped watching\n") and "interrupted" not in stderr
    store = SQLiteDocumentStore(tmp_path / "i.db")
    assert set(store.file_states()) == {str(folder / "second.txt")}


def test_serve_watch_keeps_the_served_index_in_sync(tmp_path, tiny_model):
    from fastapi.testclient import TestClient

    from pipeline.config import ApiConfig, Config, ReaderConfig, StoreConfig
    from pipeline.qa import QA
    from pipeline.serve.app import create_app

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "first.txt").write_text("The ferry leaves at noon.", encoding="utf-8")
    config = Config(store=StoreConfig(path=str(tmp_path / "i.db")), reader=ReaderConfig(model=str(tiny_model)), api=ApiConfig(data_folder=str(tmp_path / "up")))
    store = SQLiteDocumentStore(config.store.path)
    with TestClient(create_app(config, QA(config, store=store), watch=[str(folder)])) as client:
        paths = lambda: {d["path"] for d in client.get("/documents").json()["documents"]}  # noqa: E731
        eventually(lambda: paths() == {str(folder / "first.txt")}, "the watched folder is indexed at start")
        time.sleep(1)
        (folder / "second.txt").write_text("Comets are icy bodies.", encoding="utf-8")
        eventually(lambda: str(folder / "second.txt") in paths(), "a file added while serving is indexed")
        (folder / "first.txt").unlink()
        eventually(lambda: paths() == {str(folder / "second.txt")}, "a file deleted while serving is forgotten")
