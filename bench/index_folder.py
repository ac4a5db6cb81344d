"""Acceptance run for indexing: a folder of 200+ files through the real `docqa index` command.

Writes real multi-page PDFs (known text on known pages), text and Markdown files and every
kind of bad input; runs `docqa index DIR --json` as a user would, checks the exit status,
the failures, `PRAGMA integrity_check` and that every good file's passages cover its text;
runs it again (every file unchanged, nothing parsed) and compares the times; changes one
file and checks that only it is re-indexed.

    python bench/index_folder.py [--pdfs 170] [--texts 40] [--pages 12] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
from contextlib import closing
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run_index(folder: Path, db: Path) -> tuple[float, int, dict]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "index", str(folder), "--db", str(db), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    seconds = time.perf_counter() - start
    return seconds, out.returncode, json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=int, default=170)
    parser.add_argument("--texts", type=int, default=40)
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from ingest.convert import convert
    from tests.corpus import write_bad_files, write_corpus

    work = Path(tempfile.mkdtemp(prefix="docqa-index-folder-"))
    folder = work / "docs"
    written = write_corpus(folder, pdfs=args.pdfs, texts=args.texts, pages=args.pages)
    bad = write_bad_files(folder / "bad")
    total = len(written) + len(bad)
    print(f"folder: {total} files ({args.pdfs} PDFs of {args.pages} pages, {args.texts} text/Markdown, {len(bad)} bad)")

    firsts, reruns, own_firsts, own_reruns = [], [], [], []
    for r in range(args.repeats):
        db = work / f"index{r}.db"
        first, code, report = run_index(folder, db)
        assert code == 1, f"exit status {code}, expected 1 (some files failed)"
        assert report["files"] == {"indexed": len(written), "unchanged": 0, "failed": len(bad), "removed": 0}, report["files"]
        reasons = {Path(f["path"]).name: f["error"] for f in report["failures"]}
        assert all(reasons[name].startswith(why) for name, why in bad.items()), reasons
        again, code, report2 = run_index(folder, db)
        unchanged_expected = total - 1  # the dangling symlink cannot be read, so it fails again
        assert report2["files"] == {"indexed": 0, "unchanged": unchanged_expected, "failed": 1, "removed": 0}, report2
        firsts.append(first)
        reruns.append(again)
        own_firsts.append(report["seconds"])
        own_reruns.append(report2["seconds"])
        print(
            f"repeat {r + 1}: wall clock first {first:.2f} s, re-run {again:.2f} s ({again / first:.1%}); "
            f"docqa's own 'seconds' first {report['seconds']:.3f}, re-run {report2['seconds']:.3f}"
        )

    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)")
        rows = conn.execute(
            "SELECT f.path, p.start, p.text, p.page FROM passages p JOIN files f ON f.id = p.file_id ORDER BY f.path, p.ordinal"
        ).fetchall()
    by_file: dict[str, list] = {}
    for path, start, text, page in rows:
        by_file.setdefault(path, []).append((start, text, page))
    for path in written:
        text = convert(Path(path), Path(path).read_bytes()).text
        covered = set()
        for start, passage, page in by_file[path]:
            assert text[start : start + len(passage)] == passage
            if path.endswith(".pdf"):
                assert page == 1 + text.count("\f", 0, start)
            covered.update(range(start, start + len(passage)))
        assert all(i in covered for i, ch in enumerate(text) if not ch.isspace()), path
    print(f"integrity_check ok; passages cover every good file's text ({len(rows)} passages)")

    changed = next(p for p in written if p.endswith(".txt"))
    Path(changed).write_text("A changed note about copper lanterns.", encoding="utf-8")
    _, code, report3 = run_index(folder, db)
    assert report3["files"]["indexed"] == 1 and report3["passages"] == 1, report3
    print(f"changed one file: indexed {report3['files']['indexed']}, unchanged {report3['files']['unchanged']}")

    first, again = statistics.median(firsts), statistics.median(reruns)
    own_first, own_again = statistics.median(own_firsts), statistics.median(own_reruns)
    print(f"\n| run (median of {args.repeats}) | wall clock of `docqa index`, s | JSON `seconds` (indexing only), s |")
    print("|---|---:|---:|")
    print(f"| first index, {total} files | {first:.2f} | {own_first:.3f} |")
    print(f"| re-run, all unchanged | {again:.2f} ({again / first:.1%}) | {own_again:.3f} ({own_again / own_first:.1%}) |")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
