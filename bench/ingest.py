"""Indexing throughput: docqa's parallel indexer against a plain single-process loop.

Both index the same generated PDFs (real multi-page PDFs written with fpdf2) into fresh
databases in the same run; runs alternate and the median of each is reported. The baseline
does per file what docqa's workers do (pypdf extract, clean, split, insert through the
store) in one process, without hashing or worker processes.

    python bench/ingest.py [--pdfs 80] [--pages 8] [--repeats 3] [--workers 2]

Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Imports of this module's top level stay light: worker processes are spawned, and each one
# imports the main module again, as it would import the `docqa` console script.


def baseline(files: list[Path], db: Path, options: Any) -> int:
    """The plain loop: pypdf extract, split, insert; one process, one file after another."""
    from store import haystack_compat  # noqa: F401
    from haystack import Document
    from pypdf import PdfReader

    from ingest.clean import clean
    from ingest.split import page_numbers, split_text
    from store.document_store import SQLiteDocumentStore
    from store.records import FileInfo

    store = SQLiteDocumentStore(db)
    passages = 0
    for path in files:
        data = path.read_bytes()
        reader = PdfReader(io.BytesIO(data))
        text = "\f".join(clean(page.extract_text() or "") for page in reader.pages)
        splits = split_text(text, options.split_length, options.split_overlap)
        pages = page_numbers(text, [s.start for s in splits])
        docs = [
            Document(content=s.text, meta={"file_path": str(path), "page_number": p, "split_id": i, "split_idx_start": s.start})
            for i, (s, p) in enumerate(zip(splits, pages))
        ]
        store.save_file(FileInfo(str(path), None, len(data), 0.0), len(reader.pages), docs)
        passages += len(docs)
    store.close()
    return passages


def docqa(folder: Path, db: Path, options: Any, workers: int) -> int:
    from ingest.indexer import index_paths
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(db)
    report = index_paths(store, [folder], options, workers=workers, show_progress=False)
    store.close()
    assert report.failed == 0, report.failures
    return report.passages


def timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=int, default=80)
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import random

    from ingest.options import IngestOptions
    from tests.corpus import page_text, write_pdf

    rng = random.Random(0)
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-ingest-"))
    folder = work / "pdfs"
    folder.mkdir()
    for i in range(args.pdfs):
        write_pdf(folder / f"doc{i:04d}.pdf", [page_text(rng, f"Document {i} page {p + 1}", 25) for p in range(args.pages)])
    files = sorted(folder.glob("*.pdf"))
    pages = args.pdfs * args.pages
    options = IngestOptions()

    results: dict[str, list[float]] = {"baseline": [], "docqa-1": [], f"docqa-{args.workers}": [], "rerun": []}
    passages = 0
    for r in range(args.repeats):
        t, passages = timed(baseline, files, work / f"base{r}.db", options)
        results["baseline"].append(t)
        t, n = timed(docqa, folder, work / f"one{r}.db", options, 1)
        assert n == passages, (n, passages)
        results["docqa-1"].append(t)
        db = work / f"par{r}.db"
        t, n = timed(docqa, folder, db, options, args.workers)
        assert n == passages
        results[f"docqa-{args.workers}"].append(t)
        t, n = timed(docqa, folder, db, options, args.workers)
        assert n == 0
        results["rerun"].append(t)
        print(f"repeat {r + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in results.items()), file=sys.stderr)

    base = statistics.median(results["baseline"])
    par = statistics.median(results[f"docqa-{args.workers}"])
    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"Corpus: {args.pdfs} PDFs x {args.pages} pages = {pages} pages, {passages} passages; median of {args.repeats} runs\n")
    print("| run | seconds | pages/s | passages/s | vs baseline |")
    print("|---|---:|---:|---:|---:|")
    for name in ("baseline", "docqa-1", f"docqa-{args.workers}"):
        t = statistics.median(results[name])
        print(f"| {name} | {t:.2f} | {pages / t:.1f} | {passages / t:.1f} | {base / t:.2f}x |")
    rerun = statistics.median(results["rerun"])
    print(f"| re-run, all unchanged (docqa-{args.workers}) | {rerun:.3f} | | | {rerun / par:.1%} of first run |")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
