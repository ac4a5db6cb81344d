"""Retrieval speed at 1,000,000 passages: docqa's FTS5 BM25 against rank-bm25 and Haystack.

Builds one docqa database with the SQuAD public half's paragraphs (split by docqa's own
splitter) plus synthetic passages whose words follow a Zipf distribution over a vocabulary
of the SQuAD words and generated ones, and measures the latency of SQuAD questions
(top 20) as the collection grows through 10k, 100k and 1M passages. rank-bm25 and
Haystack's InMemoryBM25Retriever build in-memory indexes whose cost grows with the corpus;
they are measured on the same corpus at 10k and 100k passages, and their 1M figures are
extrapolated linearly (said so in the output).

    python bench/retrieval.py [--passages 1000000] [--queries 500] [--peer-queries 50]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
sys.path.insert(0, str(REPO))


def vocabulary(paragraphs: list[str], size: int, rng) -> list[str]:  # type: ignore[no-untyped-def]
    """SQuAD's words by frequency, then generated pseudo-words, so ranks follow real use."""
    counts = Counter(w.lower() for p in paragraphs for w in re.findall(r"[A-Za-z]+", p))
    words = [w for w, _ in counts.most_common()]
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    while len(words) < size:
        n = int(rng.integers(4, 10))
        words.append("".join(letters[int(i)] for i in rng.zipf(1.3, n) % len(letters)))
    return words[:size]


def synthetic_passages(words: list[str], count: int, rng, length: int = 100):  # type: ignore[no-untyped-def]
    # Zipf ranks beyond the vocabulary wrap around into its tail.
    ranks = (rng.zipf(1.1, size=(count, length)) - 1) % len(words)
    return [" ".join(words[r] for r in row).capitalize() + "." for row in ranks]


def latencies(fn, questions: list[str]) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for q in questions:
        start = time.perf_counter()
        fn(q)
        out.append(time.perf_counter() - start)
    return out


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return 1000 * statistics.median(ordered), 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--peer-queries", type=int, default=50)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--max-postings", type=int, default=50_000, help="the retriever.max_postings measured beside exact ranking")
    args = parser.parse_args()
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

    from store import haystack_compat  # noqa: F401
    from haystack import Document

    from ingest.options import IngestOptions
    from pipeline.evaluate import index_paragraphs, load_squad
    from store.records import FileInfo

    rng = np.random.default_rng(0)
    questions_all, paragraphs = load_squad(SQUAD)
    pick = rng.choice(len(questions_all), size=min(args.queries, len(questions_all)), replace=False)
    questions = [questions_all[i].question for i in pick]
    words = vocabulary(paragraphs, 60_000, rng)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="docqa-bench-retrieval-"))
    db = work / "retrieval.db"
    store = index_paragraphs(paragraphs, db, IngestOptions())
    total = store.count_documents()
    peers_corpus: list[str] = [d.content for d in store.filter_documents()]
    rows = []
    checkpoints = sorted({c for c in (10_000, 100_000, args.passages) if c <= args.passages})
    build_seconds = 0.0
    file_number = 0
    for checkpoint in checkpoints:
        started = time.perf_counter()
        while total < checkpoint:
            batch = min(2000, checkpoint - total)
            texts = synthetic_passages(words, batch, rng)
            if len(peers_corpus) < 100_000:
                peers_corpus.extend(texts[: 100_000 - len(peers_corpus)])
            name = f"synthetic:{file_number}"
            docs = [Document(content=t, meta={"file_path": name, "page_number": None, "split_id": i, "split_idx_start": i * 1000}) for i, t in enumerate(texts)]
            store.save_file(FileInfo(name, f"{file_number:064x}", None, None), None, docs)
            file_number += 1
            total += batch
        build_seconds += time.perf_counter() - started
        store.bm25_retrieval(questions[0], 20)  # warm the page cache
        median, p99 = summary(latencies(lambda q: store.bm25_retrieval(q, 20), questions))
        budget_median, budget_p99 = summary(latencies(lambda q: store.bm25_retrieval(q, 20, max_postings=args.max_postings), questions))
        overlap = same_first = 0.0
        for q in questions:
            exact = [d.id for d in store.bm25_retrieval(q, 20)]
            budgeted = [d.id for d in store.bm25_retrieval(q, 20, max_postings=args.max_postings)]
            overlap += len(set(exact) & set(budgeted)) / max(len(exact), 1)
            same_first += bool(exact) and bool(budgeted) and exact[0] == budgeted[0]
        size = sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append({
            "passages": total, "median_ms": median, "p99_ms": p99, "budget_median_ms": budget_median, "budget_p99_ms": budget_p99,
            "overlap20": overlap / len(questions), "same_top1": same_first / len(questions),
            "db_mb": size / 1e6, "build_s": build_seconds, "peak_rss_mb": peak,
        })
        print(f"{total} passages: exact median {median:.1f} ms p99 {p99:.1f}; budget median {budget_median:.1f} p99 {budget_p99:.1f}; "
              f"overlap@20 {overlap / len(questions):.3f}; db {size / 1e6:.0f} MB, built in {build_seconds:.0f} s", file=sys.stderr)

    peers = []
    peer_questions = questions[: args.peer_queries]
    from rank_bm25 import BM25Okapi

    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    from store.terms import terms

    for size in [s for s in (10_000, 100_000) if s <= len(peers_corpus)]:
        corpus = peers_corpus[:size]
        started = time.perf_counter()
        bm25 = BM25Okapi([terms(t) for t in corpus], k1=1.2, b=0.75)
        rank_build = time.perf_counter() - started
        rank_median, rank_p99 = summary(latencies(lambda q: bm25.get_top_n(terms(q, drop_stopwords=True), corpus, n=20), peer_questions))
        started = time.perf_counter()
        memory_store = InMemoryDocumentStore()
        memory_store.write_documents([Document(content=t) for t in corpus])
        haystack_retriever = InMemoryBM25Retriever(memory_store, top_k=20)
        hay_build = time.perf_counter() - started
        hay_median, hay_p99 = summary(latencies(lambda q: haystack_retriever.run(query=q), peer_questions))
        peers.append({"passages": size, "rank_bm25": (rank_median, rank_p99, rank_build), "haystack": (hay_median, hay_p99, hay_build)})
        print(f"peers at {size}: rank-bm25 median {rank_median:.0f} ms, Haystack median {hay_median:.0f} ms", file=sys.stderr)

    print(f"\nSQuAD questions: {len(questions)} for docqa, {len(peer_questions)} for the peers; top 20; CPU, {os.cpu_count()} cores\n")
    print(f"| passages | exact: median ms | p99 ms | max_postings {args.max_postings:,}: median ms | p99 ms | top-20 overlap with exact | same top 1 | database MB | build s (cumulative) | peak RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['passages']:,} | {r['median_ms']:.1f} | {r['p99_ms']:.1f} | {r['budget_median_ms']:.1f} | {r['budget_p99_ms']:.1f} | "
            f"{r['overlap20']:.3f} | {r['same_top1']:.3f} | {r['db_mb']:.0f} | {r['build_s']:.0f} | {r['peak_rss_mb']:.0f} |"
        )
    print("\n| passages | rank-bm25 median ms (p99) | Haystack InMemoryBM25 median ms (p99) |")
    print("|---:|---:|---:|")
    for p in peers:
        print(f"| {p['passages']:,} | {p['rank_bm25'][0]:.0f} ({p['rank_bm25'][1]:.0f}) | {p['haystack'][0]:.0f} ({p['haystack'][1]:.0f}) |")
    last = peers[-1]
    factor = args.passages / last["passages"]
    print(
        f"| {args.passages:,} (extrapolated x{factor:g} from {last['passages']:,}) | {last['rank_bm25'][0] * factor:.0f} | "
        f"{last['haystack'][0] * factor:.0f} |"
    )
    json.dump({"docqa": rows, "peers": peers}, open(work / "retrieval.json", "w"))


if __name__ == "__main__":
    main()
