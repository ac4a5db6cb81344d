"""Retrieval speed at 1,000,000 passages: docqa's default (tantivy beside SQLite) against exact
FTS5, FTS5 with max_postings, bm25s and tantivy on its own.

Builds one docqa database with the SQuAD public half's paragraphs (split by docqa's own
splitter) plus synthetic passages whose words follow a Zipf distribution over a vocabulary
of the SQuAD words and generated ones, and measures SQuAD questions (top 20) as the
collection grows through 10k, 100k and 1M passages: median and p99 latency and recall@20 (a
passage of the question's own paragraph among the 20), for docqa's engines, for filtered
queries, and for two peers fed the same passages in the same order:

- bm25s (method "lucene", k1 1.2, b 0.75) over docqa's own terms: exact Lucene BM25, the
  reference for tantivy's ranking (same IDF);
- tantivy (tantivy-py) on its own, with its English stemmer ("en_stem") over the raw text
  and the question parsed leniently: what the engine gives without docqa's tokenizer.

    nice -n 10 python bench/retrieval.py [--passages 1000000] [--queries 300] [--workdir DIR]
    nice -n 10 python bench/retrieval.py --workdir DIR --docqa-again [--warm]   # docqa's rows and tantivy's again, same database
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
sys.path.insert(0, str(REPO))

TOP_K = 20
# Filters measured against the unfiltered query: the public half only (0.1% of 1M passages),
# about half the files by a glob, and a Haystack metadata filter on about half the passages.
HALF = ["squad:*", "synthetic/*[02468]"]
META = {"field": "meta.split_id", "operator": "<", "value": 1000}


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


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return 1000 * statistics.median(ordered), 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def measure(search, questions) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """median ms, p99 ms and recall@20 of `search(question) -> paragraph indexes (None: not SQuAD)`."""
    search(questions[0].question)  # warm the page cache
    times, hits = [], 0
    for q in questions:
        started = time.perf_counter()
        found = search(q.question)
        times.append(time.perf_counter() - started)
        hits += q.paragraph in found
    median, p99 = summary(times)
    return median, p99, hits / len(questions)


def docqa_configs(store, max_postings: int):  # type: ignore[no-untyped-def]
    """(name, search) for docqa's engines: the unrestricted rows, then the restricted ones."""

    def docqa(engine: str, max_postings: int | None = None, **restrict):  # type: ignore[no-untyped-def]
        def search(question: str) -> set[int | None]:
            docs = store.bm25_retrieval(question, TOP_K, engine=engine, max_postings=max_postings, **restrict)
            return {int(d.meta["file_path"][6:]) for d in docs if d.meta["file_path"].startswith("squad:")}

        return search

    unrestricted = [
        ("docqa default (tantivy beside SQLite)", docqa("tantivy")),
        ("docqa fts5 exact (max_postings null)", docqa("fts5")),
        (f"docqa fts5 max_postings {max_postings:,}", docqa("fts5", max_postings)),
    ]
    restricted = [
        ("docqa default, --file 'squad:*' (0.1-13%)", docqa("tantivy", paths=["squad:*"])),
        ("docqa default, --file half the files", docqa("tantivy", paths=HALF)),
        ("docqa default, filter meta.split_id < 1000", docqa("tantivy", filters=META)),
        ("docqa fts5 exact, --file half the files", docqa("fts5", paths=HALF)),
    ]
    return unrestricted, restricted


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--max-postings", type=int, default=50_000, help="the fts5 retriever.max_postings measured beside exact ranking")
    parser.add_argument("--docqa-again", action="store_true", help="measure docqa's rows again on the database a run left in --workdir (no build; of the peers, tantivy alone on the index it left)")
    parser.add_argument("--warm", action="store_true", help="with --docqa-again: ask every question once before measuring each row (the page cache and docqa's stems warm)")
    args = parser.parse_args()
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

    import bm25s
    import tantivy

    from store import haystack_compat  # noqa: F401
    from haystack import Document

    from ingest.options import IngestOptions
    from pipeline.evaluate import index_paragraphs, load_squad
    from store.records import FileInfo
    from store.terms import STOPWORDS, terms

    rng = np.random.default_rng(0)
    questions_all, paragraphs = load_squad(SQUAD)
    pick = rng.choice(len(questions_all), size=min(args.queries, len(questions_all)), replace=False)
    questions = [questions_all[i] for i in pick]
    words = vocabulary(paragraphs, 60_000, rng)

    work = Path(args.workdir or tempfile.mkdtemp(prefix="docqa-bench-retrieval-"))
    db = work / "retrieval.db"
    if args.docqa_again:
        from store.document_store import SQLiteDocumentStore

        store = SQLiteDocumentStore(db, create=False)
        print(f"{store.count_documents():,} passages in {db}; docqa's rows only\n")
        print("| retriever | median ms | p99 ms | recall@20 |\n|---|---:|---:|---:|")
        unrestricted, restricted = docqa_configs(store, args.max_postings)
        peers = []
        if (work / "tantivy-alone").is_dir():
            # The run's tantivy on its own: its passage n is docqa's n-th (the public half's
            # first, in the order they were indexed).
            import sqlite3

            with sqlite3.connect(db) as connection:
                paragraph_of = [int(path.split(":")[1]) for (path,) in connection.execute(
                    "SELECT files.path FROM passages JOIN files ON files.id = passages.file_id WHERE files.path GLOB 'squad:*' ORDER BY passages.pk")]
            ref_index = tantivy.Index.open(str(work / "tantivy-alone"))
            ref_searcher = ref_index.searcher()

            def tantivy_again(question: str) -> set[int | None]:
                query, _errors = ref_index.parse_query_lenient(question, ["text"])
                hits = ref_searcher.search(query, limit=TOP_K, count=False).hits
                return {paragraph_of[n] for n in ref_searcher.fast_field_values("n", [a for _, a in hits]) if n < len(paragraph_of)}

            peers = [("tantivy alone (en_stem)", tantivy_again)]
        for name, search in unrestricted + peers + restricted:
            if args.warm:
                measure(search, questions)
            median, p99, recall = measure(search, questions)
            print(f"| {name} | {median:.1f} | {p99:.1f} | {recall:.3f} |", flush=True)
        return
    started = time.perf_counter()
    store = index_paragraphs(paragraphs, db, IngestOptions())
    build_docqa = time.perf_counter() - started

    # The peers get the same passages in the same order; paragraph_of[i] is the SQuAD
    # paragraph of the i-th passage (None for synthetic ones).
    paragraph_of: list[int | None] = []
    vocab: dict[str, int] = {}
    corpus_ids: list[list[int]] = []
    ref_schema = tantivy.SchemaBuilder()
    ref_schema.add_text_field("text", tokenizer_name="en_stem", index_option="freq")
    ref_schema.add_integer_field("n", fast=True)
    ref_folder = work / "tantivy-alone"
    ref_index = tantivy.Index(ref_schema.build(), path=str(ref_folder.mkdir() or ref_folder))
    ref_writer = ref_index.writer(heap_size=128_000_000, num_threads=1)
    build_bm25s_tokens = build_ref = 0.0

    def feed_peers(texts: list[str]) -> None:
        nonlocal build_bm25s_tokens, build_ref
        started = time.perf_counter()
        for t in texts:
            corpus_ids.append([vocab.setdefault(term, len(vocab)) for term in terms(t)])
        build_bm25s_tokens += time.perf_counter() - started
        started = time.perf_counter()
        for t in texts:
            document = tantivy.Document()
            document.add_integer("n", len(paragraph_of))
            document.add_text("text", t)
            ref_writer.add_document(document)
            paragraph_of.append(None)
        build_ref += time.perf_counter() - started

    public = store.filter_documents()
    feed_peers([d.content or "" for d in public])
    paragraph_of[:] = [int(d.meta["file_path"].split(":")[1]) for d in public]
    total = len(public)

    rows: list[dict] = []
    file_number = 0
    checkpoints = sorted({c for c in (10_000, 100_000, args.passages) if c <= args.passages})
    for checkpoint in checkpoints:
        started = time.perf_counter()
        with store.bulk():
            batches = []
            while total < checkpoint:
                batch = min(2000, checkpoint - total)
                texts = synthetic_passages(words, batch, rng)
                name = f"synthetic/{file_number:05d}"
                docs = [Document(content=t, meta={"file_path": name, "page_number": None, "split_id": i, "split_idx_start": i * 1000}) for i, t in enumerate(texts)]
                store.save_file(FileInfo(name, f"{file_number:064x}", None, None), None, docs)
                batches.append(texts)
                file_number += 1
                total += batch
        build_docqa += time.perf_counter() - started
        for texts in batches:
            feed_peers(texts)
        started = time.perf_counter()
        ref_writer.commit()
        ref_index.reload()
        ref_searcher = ref_index.searcher()
        build_ref += time.perf_counter() - started
        started = time.perf_counter()
        bm25 = bm25s.BM25(method="lucene", k1=1.2, b=0.75)
        bm25.index((corpus_ids, vocab), show_progress=False)
        build_bm25s = build_bm25s_tokens + time.perf_counter() - started
        print(f"{total} passages built: docqa {build_docqa:.0f} s, bm25s {build_bm25s:.0f} s, tantivy {build_ref:.0f} s", file=sys.stderr)

        def bm25s_search(question: str) -> set[int | None]:
            query = [vocab[t] for t in terms(question, drop_stopwords=True) or terms(question) if t in vocab]
            if not query:
                return set()
            found, _ = bm25.retrieve([query], k=TOP_K, show_progress=False, n_threads=1)
            return {paragraph_of[i] for i in found[0]}

        def tantivy_search(question: str) -> set[int | None]:
            query, _errors = ref_index.parse_query_lenient(question, ["text"])
            hits = ref_searcher.search(query, limit=TOP_K, count=False).hits
            return {paragraph_of[n] for n in ref_searcher.fast_field_values("n", [a for _, a in hits])}

        unrestricted, restricted = docqa_configs(store, args.max_postings)
        peers = [("bm25s (docqa terms, lucene)", bm25s_search), ("tantivy alone (en_stem)", tantivy_search)]
        configs = unrestricted + peers + restricted  # the table's row order
        sizes = {
            "docqa": sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists()) / 1e6,
            "docqa_tantivy": folder_mb(Path(f"{db}.tantivy")),
            "tantivy_alone": folder_mb(ref_folder),
        }
        for name, search in configs:
            median, p99, recall = measure(search, questions)
            rows.append({"passages": total, "config": name, "median_ms": median, "p99_ms": p99, "recall20": recall})
            print(f"  {name}: median {median:.1f} ms, p99 {p99:.1f}, recall@20 {recall:.3f}", file=sys.stderr)
        rows.append({
            "passages": total, "config": "build", "docqa_s": build_docqa, "bm25s_s": build_bm25s, "tantivy_s": build_ref,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **sizes,
        })
        del bm25

    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    print(f"\n{len(questions)} SQuAD questions, top {TOP_K}; CPU: {model}, {os.cpu_count()} cores\n")
    print("| passages | retriever | median ms | p99 ms | recall@20 |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        if r["config"] != "build":
            print(f"| {r['passages']:,} | {r['config']} | {r['median_ms']:.1f} | {r['p99_ms']:.1f} | {r['recall20']:.3f} |")
    print("\n| passages | docqa build s (cumulative) | database MB | tantivy beside it MB | bm25s build s | tantivy alone build s (cumulative) | tantivy alone MB | peak RSS MB (whole bench) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["config"] == "build":
            print(f"| {r['passages']:,} | {r['docqa_s']:.0f} | {r['docqa']:.0f} | {r['docqa_tantivy']:.0f} | {r['bm25s_s']:.0f} | {r['tantivy_s']:.0f} | {r['tantivy_alone']:.0f} | {r['peak_rss_mb']:.0f} |")
    (work / "retrieval.json").write_text(json.dumps({"cpu": model, "rows": rows}, indent=1))
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
