"""Large collections: `docqa index` up to 1,000,000 passages, and one text file of hundreds of MB.

Writes a folder in three tranches and indexes it with the real `docqa index` after each
(incrementally: only the new files are converted), so the collection grows through about
10k, 100k and 1M passages. Every tranche holds synthetic text files (sentences of words
drawn from a Zipf distribution over SQuAD's vocabulary and generated words, as in
bench/retrieval.py) and real PDFs (written with fpdf2); the first also holds the SQuAD
public half's paragraphs, one file each, whose questions are then asked.

After each tranche it records the run's time, the database size, the peak resident memory
of the indexing process and of its conversion workers (sampled every 0.1 s with psutil),
and the latency and recall@20 of the SQuAD questions (top 20: the default tantivy backend,
unrestricted and with --file on the SQuAD folder, and FTS5 exact and with several
retriever.max_postings budgets). Then it indexes one large text file into a
database of its own and records its peak memory (streamed: it must stay under 1 GB).

    python bench/scale.py [--passages 1000000] [--queries 500] [--large-text-mb 300] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
sys.path.insert(0, str(REPO))

# Passages a synthetic file yields (split_length 120, overlap 20: about 100 new words each).
PASSAGES_PER_FILE = 1000
WORDS_PER_PASSAGE = 100


def write_synthetic(folder: Path, first: int, count: int, words: list[str], rng) -> None:  # type: ignore[no-untyped-def]
    from bench.retrieval import synthetic_passages

    folder.mkdir(parents=True, exist_ok=True)
    for number in range(first, first + count):
        sentences = synthetic_passages(words, PASSAGES_PER_FILE * WORDS_PER_PASSAGE // 15, rng, length=15)
        paragraphs = (" ".join(sentences[i : i + 8]) for i in range(0, len(sentences), 8))
        (folder / f"synthetic-{number:05d}.txt").write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


def write_pdfs(folder: Path, first: int, count: int, pages: int) -> None:
    import random

    from tests.corpus import page_text, write_pdf

    folder.mkdir(parents=True, exist_ok=True)
    for number in range(first, first + count):
        rng = random.Random(number)
        write_pdf(folder / f"report-{number:04d}.pdf", [page_text(rng, f"Report {number} page {p}") for p in range(1, pages + 1)])


class MemorySampler:
    """Peak RSS of a process and of its children, sampled in a thread; and the process's peak
    anonymous RSS (RSS less file-backed pages: tantivy reads its segments through mmap, and
    those pages are the page cache, counted in RSS only while mapped)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.main_mb = self.main_anon_mb = self.worker_mb = self.worker_anon_mb = self.total_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                info = self.process.memory_info()
                main, anon = info.rss / 2**20, (info.rss - info.shared) / 2**20
                children = [c.memory_info() for c in self.process.children(recursive=True)]
            except psutil.Error:
                break
            workers = [c.rss / 2**20 for c in children]
            self.main_mb = max(self.main_mb, main)
            self.main_anon_mb = max(self.main_anon_mb, anon)
            self.worker_mb = max([self.worker_mb, *workers])
            self.worker_anon_mb = max([self.worker_anon_mb, *((c.rss - c.shared) / 2**20 for c in children)])
            self.total_mb = max(self.total_mb, main + sum(workers))
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def index(paths: list[Path], db: Path, config: Path | None = None, tree: Path = REPO) -> dict:
    """The real `docqa index PATHS --db DB --json` of the checkout `tree`, timed, with its memory."""
    command = [sys.executable, "-m", "pipeline.cli", "index", *map(str, paths), "--db", str(db), "--json"]
    if config is not None:
        command += ["--config", str(config)]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=tree, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sampler = MemorySampler(process.pid)
    out, _ = process.communicate()
    sampler.stop()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"docqa index exited {process.returncode}")
    report = json.loads(out)
    return {"seconds": seconds, "report": report, "main_mb": sampler.main_mb, "main_anon_mb": sampler.main_anon_mb, "worker_mb": sampler.worker_mb, "worker_anon_mb": sampler.worker_anon_mb, "total_mb": sampler.total_mb}


def ask(db: Path, questions, paragraph_files: list[str], engine: str, max_postings: int | None = None, **restrict) -> dict:  # type: ignore[no-untyped-def]
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(db, create=False)
    store.bm25_retrieval(questions[0].question, 20, max_postings=max_postings, engine=engine, **restrict)  # warm the page cache
    times, hits = [], 0
    for q in questions:
        started = time.perf_counter()
        docs = store.bm25_retrieval(q.question, 20, max_postings=max_postings, engine=engine, **restrict)
        times.append(time.perf_counter() - started)
        hits += any(d.meta.get("file_path") == paragraph_files[q.paragraph] for d in docs)
    store.close()
    ordered = sorted(times)
    return {
        "median_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "recall20": hits / len(questions),
    }


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--pdf-pages", type=int, default=10)
    parser.add_argument("--large-text-mb", type=float, default=300)
    parser.add_argument("--budgets", default="50000,100000,200000", help="retriever.max_postings values measured beside exact ranking")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--ask-again", action="store_true", help="only ask the questions again, on the database a run left in --workdir (twice: the first round warms the page cache)")
    args = parser.parse_args()
    budgets = [int(b) for b in args.budgets.split(",") if b]

    from bench.retrieval import vocabulary
    from ingest.options import IngestOptions
    from pipeline.evaluate import load_squad

    rng = np.random.default_rng(0)
    questions_all, paragraphs = load_squad(SQUAD)
    pick = rng.choice(len(questions_all), size=min(args.queries, len(questions_all)), replace=False)
    questions = [questions_all[i] for i in sorted(pick)]
    words = vocabulary(paragraphs, 60_000, rng)
    assert IngestOptions().split_length == 120

    work = Path(args.workdir or tempfile.mkdtemp(prefix="docqa-bench-scale-"))
    docs, db = work / "docs", work / "scale.db"
    squad = docs / "squad"
    squad.mkdir(parents=True, exist_ok=True)
    paragraph_files = []
    for i, paragraph in enumerate(paragraphs):
        path = squad / f"paragraph-{i:04d}.txt"
        path.write_text(paragraph, encoding="utf-8")
        paragraph_files.append(str(path))
    print(f"work folder {work}", file=sys.stderr)
    if args.ask_again:
        for round_ in ("warming", "measured"):
            queries = {"tantivy (default)": ask(db, questions, paragraph_files, "tantivy"), "tantivy, --file 'squad/*'": ask(db, questions, paragraph_files, "tantivy", paths=[f"{squad}/*"])}
            for name, q in queries.items():
                print(f"| {round_} | {name} | {q['median_ms']:.1f} | {q['p99_ms']:.1f} | {q['recall20']:.3f} |")
        return

    rows = []
    synthetic_done = pdf_done = 0
    checkpoints = sorted({c for c in (10_000, 100_000, args.passages) if c <= args.passages})  # --passages 100000: twice
    total_passages = 0
    for tranche, checkpoint in enumerate(checkpoints):
        # About 1 passage in 20 from PDFs; the rest synthetic text, topped up until the
        # checkpoint is reached (a file's passage count is only known once it is split).
        pdfs = max(1, (checkpoint - total_passages) // 20 // (args.pdf_pages * 2))
        write_pdfs(docs / f"pdf-{tranche}", pdf_done, pdfs, args.pdf_pages)
        pdf_done += pdfs
        expected = pdfs * args.pdf_pages * 2 + (len(paragraphs) if tranche == 0 else 0)
        runs = []
        while total_passages < checkpoint:
            synthetic = max(1, math.ceil((checkpoint - total_passages - expected) / PASSAGES_PER_FILE))
            write_synthetic(docs / f"text-{tranche}", synthetic_done, synthetic, words, rng)
            synthetic_done += synthetic
            print(f"tranche {tranche + 1}: {pdf_done} PDFs and {synthetic_done} text files written; indexing", file=sys.stderr)
            run = index([docs], db)
            runs.append(run)
            total_passages += run["report"]["passages"]
            expected = 0
        size = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
        seconds = sum(r["seconds"] for r in runs)
        new_passages = sum(r["report"]["passages"] for r in runs)
        row = {
            "passages": total_passages, "indexed_files": sum(r["report"]["files"]["indexed"] for r in runs), "runs": len(runs),
            "new_passages": new_passages, "index_s": seconds, "passages_per_s": new_passages / seconds, "db_mb": size / 1e6,
            "main_mb": max(r["main_mb"] for r in runs), "main_anon_mb": max(r["main_anon_mb"] for r in runs), "worker_mb": max(r["worker_mb"] for r in runs),
            "total_mb": max(r["total_mb"] for r in runs),
            "tantivy_mb": sum(p.stat().st_size for p in Path(f"{db}.tantivy").glob("*")) / 1e6,
            "queries": {
                "tantivy (default)": ask(db, questions, paragraph_files, "tantivy"),
                "tantivy, --file 'squad/*'": ask(db, questions, paragraph_files, "tantivy", paths=[f"{squad}/*"]),
                **{f"fts5, max_postings {b:,}": ask(db, questions, paragraph_files, "fts5", b) for b in budgets},
                "fts5 exact (null)": ask(db, questions, paragraph_files, "fts5"),
            },
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)

    large = None
    if args.large_text_mb > 0:
        from tests.corpus import write_large_text

        (work / "large").mkdir(exist_ok=True)
        big = write_large_text(work / "large" / "large.txt", args.large_text_mb)
        run = index([big], work / "large.db")
        large = {"mb": big.stat().st_size / 2**20, "seconds": run["seconds"], "passages": run["report"]["passages"], "peak_mb": run["total_mb"]}
        print(json.dumps(large), file=sys.stderr)

    print(f"\n`docqa index` (one worker per core, {os.cpu_count()} cores); {len(questions)} SQuAD questions, top 20\n")
    print("| passages | files indexed (runs) | index s | passages/s | database MB | tantivy index MB | peak RSS MB: indexer | its anonymous RSS | one worker | all processes |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['passages']:,} | {r['indexed_files']:,} ({r['runs']}) | {r['index_s']:.0f} | {r['passages_per_s']:,.0f} | "
            f"{r['db_mb']:,.0f} | {r['tantivy_mb']:,.0f} | {r['main_mb']:.0f} | {r['main_anon_mb']:.0f} | {r['worker_mb']:.0f} | {r['total_mb']:.0f} |"
        )
    print("\n| passages | retriever | median ms | p99 ms | recall@20 |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        for name, q in r["queries"].items():
            print(f"| {r['passages']:,} | {name} | {q['median_ms']:.1f} | {q['p99_ms']:.1f} | {q['recall20']:.3f} |")
    if large is not None:
        print(f"\nOne {large['mb']:.0f} MB text file: {large['passages']:,} passages in {large['seconds']:.0f} s, peak RSS {large['peak_mb']:.0f} MB")
    json.dump({"rows": rows, "large": large}, open(work / "scale.json", "w"), indent=2)


if __name__ == "__main__":
    main()
