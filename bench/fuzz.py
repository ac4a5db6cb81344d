"""Fuzzing the indexer with damaged PDFs: it must never crash, hang or leave partial data.

Mutates valid PDFs (bytes flipped, truncated, sections duplicated; tests/test_reliability's
mutate()) and indexes them in batches with worker processes under the per-file time limit.
Every file must end up indexed or failed with a reason, and the database consistent.

    python bench/fuzz.py [--cases 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from ingest.indexer import index_paths
    from ingest.options import IngestOptions
    from store.document_store import SQLiteDocumentStore
    from tests.corpus import page_text, write_pdf
    from tests.reliability import consistency_problems, snapshot
    from tests.test_reliability import mutate

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="docqa-fuzz-"))
    seeds = [write_pdf(work / f"seed{i}.pdf", [page_text(rng, f"Seed {i} page {p}", 10) for p in range(4)]).read_bytes() for i in range(10)]
    folder = work / "cases"
    folder.mkdir()
    for case in range(args.cases):
        (folder / f"case{case:05d}.pdf").write_bytes(mutate(rng.choice(seeds), rng))
    db = work / "fuzz.db"
    store = SQLiteDocumentStore(db)
    started = time.perf_counter()
    report = index_paths(store, [folder], IngestOptions(workers=2, timeout_s=30), show_progress=True)
    seconds = time.perf_counter() - started
    problems = consistency_problems(db, snapshot(db))
    reasons: dict[str, int] = {}
    for failure in report.failures:
        key = failure.error.split("(")[0].split(":")[0].strip()
        reasons[key] = reasons.get(key, 0) + 1
    accounted = report.indexed + report.failed == args.cases and all(f.error for f in report.failures)
    print(f"\n{args.cases} mutated PDFs (seed {args.seed}) in {seconds:.0f} s: {report.indexed} indexed, {report.failed} failed with a reason")
    print(f"every file accounted for: {accounted}; database problems: {problems or 'none'}")
    print("failure reasons: " + ", ".join(f"{k} ({v})" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])))
    return 0 if accounted and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
