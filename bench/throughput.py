"""Indexing throughput of two or more trees of docqa on one folder, in one run.

Each tree (a checkout: this one, or a `git worktree` of an older commit) indexes the whole
folder into an empty database with the real `docqa index FOLDER --db NEW.db --json`, run from
that tree; the trees take turns, `--repeats` times, so that a change in the machine's load
falls on each alike. Reports each tree's median wall time, passages per second, its ratio to
the first tree's, the indexing process's peak RSS and anonymous RSS, the peak RSS of its
largest child (a conversion worker, or the search index's follower) and of all its processes
together (psutil, every 0.1 s).

    python bench/throughput.py FOLDER --trees BASE,. [--repeats 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def index_once(tree: Path, folder: Path, db: Path) -> dict:  # type: ignore[type-arg]
    from bench.scale import index

    shutil.rmtree(f"{db}.tantivy", ignore_errors=True)
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    run = index([folder], db, tree=tree)
    return {"passages": run["report"]["passages"], **{k: run[k] for k in ("seconds", "main_mb", "main_anon_mb", "worker_mb", "worker_anon_mb", "total_mb")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder")
    parser.add_argument("--trees", default=".", help="comma-separated checkouts; the first is the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="docqa-throughput-"))
    workdir.mkdir(parents=True, exist_ok=True)
    runs: dict[Path, list[dict]] = {tree: [] for tree in trees}  # type: ignore[type-arg]
    for repeat in range(args.repeats):
        for number, tree in enumerate(trees):
            run = index_once(tree, Path(args.folder).resolve(), workdir / f"tree{number}.db")
            runs[tree].append(run)
            print(json.dumps({"repeat": repeat, "tree": str(tree), **run}), file=sys.stderr, flush=True)
    base = statistics.median(r["seconds"] for r in runs[trees[0]])
    print("| tree | passages | median s | passages/s | / first | peak RSS MB | anonymous RSS MB | largest child MB | its anonymous MB | all processes MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tree in trees:
        seconds = statistics.median(r["seconds"] for r in runs[tree])
        passages = runs[tree][0]["passages"]
        print(
            f"| {tree} | {passages:,} | {seconds:.1f} | {passages / seconds:,.0f} | {base / seconds:.2f} | "
            f"{max(r['main_mb'] for r in runs[tree]):.0f} | {max(r['main_anon_mb'] for r in runs[tree]):.0f} | "
            f"{max(r['worker_mb'] for r in runs[tree]):.0f} | {max(r['worker_anon_mb'] for r in runs[tree]):.0f} | {max(r['total_mb'] for r in runs[tree]):.0f} |"
        )


if __name__ == "__main__":
    main()
