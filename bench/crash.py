"""Crash safety: `docqa index` killed with SIGKILL at random moments never leaves a bad database.

Builds a reference database without interruption, then repeatedly starts `docqa index`
on a second database and kills its main process with SIGKILL after a random delay (its
worker processes are left to notice on their own, as after an OOM kill). After every kill
the database must pass `PRAGMA integrity_check`, FTS5's own check against the passages
table, and hold no passages of a half-indexed file, and the tantivy index beside it must,
once opened (it catches up with what the kill left unapplied), hold exactly its passages; after the last kill one more run must
finish the job and give exactly the reference's files and passages.

    python bench/crash.py [--files 300] [--kills 25] [--seed 0]

Runs that finish before their kill lands do not count: the script goes on until `--kills`
SIGKILLs have landed mid-run.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def index_command(folder: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "index", str(folder), "--db", str(db), "--workers", "2"]


def run(folder: Path, db: Path) -> float:
    started = time.perf_counter()
    subprocess.run(index_command(folder, db), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def search_index_problems(db: Path) -> list[str]:
    """What the tantivy index beside `db` gets wrong once a reader opens it (it catches up
    with what the kill left unapplied first); [] when it holds exactly SQLite's passages."""
    from store.document_store import SQLiteDocumentStore
    from store.errors import StoreError

    try:
        store = SQLiteDocumentStore(db, create=False)
    except StoreError:
        return []  # killed before the schema committed: nothing indexed
    try:
        if not store.has_passages():
            return []
        found = store.search_index_check(sample=40)
        return [] if found == ["ok"] else [f"search index: {p}" for p in found]
    finally:
        store.close()


def orphans() -> int:
    """Conversion workers still alive after their indexer was killed (adopted by init)."""
    out = subprocess.run(["pgrep", "-f", "multiprocessing.spawn"], capture_output=True, text=True)
    count = 0
    for pid in out.stdout.split():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        parent = int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))
        count += parent == 1 or not Path(f"/proc/{parent}").exists()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from tests.corpus import write_corpus
    from tests.reliability import consistency_problems, snapshot

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="docqa-crash-"))
    folder = work / "docs"
    write_corpus(folder, pdfs=args.files * 2 // 3, texts=args.files - args.files * 2 // 3, pages=4, seed=args.seed)
    reference_db = work / "reference.db"
    full = run(folder, reference_db)
    reference = snapshot(reference_db)
    print(f"{args.files} files, reference build {full:.1f} s, {sum(map(len, reference.values()))} passages", file=sys.stderr)

    db = work / "killed.db"
    bad_states = 0
    killed = runs = 0
    while killed < args.kills:
        runs += 1
        process = subprocess.Popen(index_command(folder, db), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, full * 1.1))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed += 1
        process.wait()
        if db.exists():
            problems = consistency_problems(db, reference) + search_index_problems(db)
            if problems:
                bad_states += 1
                print(f"run {runs}: {problems[:3]}", file=sys.stderr)
        done = len(snapshot(db)) if db.exists() else 0
        print(f"run {runs}, {killed}/{args.kills} kills: {done}/{len(reference)} files indexed so far", file=sys.stderr)
        if done == len(reference):
            db.unlink()  # start over, so that later kills land at other moments of a run
            for suffix in ("-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    time.sleep(2)  # workers poll for their parent every 0.5 s
    leftover = orphans()
    run(folder, db)
    final_problems = consistency_problems(db, reference) + search_index_problems(db)
    same = snapshot(db) == reference
    print(f"\n{killed} SIGKILLs at random moments over {runs} runs of `docqa index` on {args.files} files")
    print(f"inconsistent states after a kill: {bad_states}")
    print(f"final run completes the job and equals the uninterrupted build: {same and not final_problems}")
    print(f"conversion workers left running after their indexer was killed: {leftover}")
    return 0 if bad_states == 0 and same and not final_problems else 1


if __name__ == "__main__":
    sys.exit(main())
