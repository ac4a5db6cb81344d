"""Haystack metadata filters of several selectivities against the unrestricted query, on a
database `bench/scale.py` built (its SQuAD questions, top 20, median ms after a warm-up).

    python bench/filters.py DB [--questions 150] [--below 500,100,20,2]

Each filter is `meta.split_id < N`; the share of passages it keeps is printed beside it.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"


def main() -> None:
    import numpy as np

    from pipeline.evaluate import load_squad
    from store.document_store import SQLiteDocumentStore

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("--questions", type=int, default=150)
    parser.add_argument("--below", default="500,100,20,2")
    args = parser.parse_args()
    questions_all, _ = load_squad(SQUAD)
    rng = np.random.default_rng(0)
    questions = [questions_all[i].question for i in sorted(rng.choice(len(questions_all), args.questions, replace=False))]
    store = SQLiteDocumentStore(args.db, create=False)
    counts = sqlite3.connect(args.db)
    total = counts.execute("SELECT count(*) FROM passages").fetchone()[0]

    def medians_ms(filters: dict) -> tuple[float, float]:  # type: ignore[type-arg]
        """Median ms unrestricted and filtered, each question asked both ways in turn, so
        that a change in the machine's load falls on both alike."""
        store.bm25_retrieval(questions[0], 20)  # warm
        store.bm25_retrieval(questions[0], 20, filters=filters)
        plain, filtered = [], []
        for q in questions:
            for times, restrict in ((plain, {}), (filtered, {"filters": filters})):
                started = time.perf_counter()
                store.bm25_retrieval(q, 20, **restrict)
                times.append(time.perf_counter() - started)
        return 1000 * statistics.median(plain), 1000 * statistics.median(filtered)

    print(f"{total:,} passages, {len(questions)} questions, top 20")
    print("| filter | share of passages | unrestricted median ms | filtered median ms | ratio |")
    print("|---|---:|---:|---:|---:|")
    for below in (int(b) for b in args.below.split(",")):
        kept = counts.execute("SELECT count(*) FROM passages WHERE ordinal < ?", (below,)).fetchone()[0]
        plain, filtered = medians_ms({"field": "meta.split_id", "operator": "<", "value": below})
        print(f"| meta.split_id < {below} | {100 * kept / total:.1f}% | {plain:.1f} | {filtered:.1f} | {filtered / plain:.1f} |", flush=True)


if __name__ == "__main__":
    main()
