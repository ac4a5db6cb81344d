"""Recall on the public half: tantivy's ranking, FTS5's, and BM25 recomputed exactly on tantivy's top 60.

    python bench/exact_bm25.py [--squad PATH]

Every paragraph of the SQuAD file indexed as its own document (as `docqa eval squad --mode
retrieval` indexes them), each question asked of the store by both engines; then tantivy's top
60 rescored with exact passage lengths (tantivy stores a passage's length in one byte: exact up
to 40 terms, then within a few percent) under Lucene's IDF (tantivy's) and under FTS5's, and
cut to 20. Prints the questions whose paragraph is in the top 1 / 5 / 20 for each, and the
questions where tantivy and FTS5 disagree at 20. An experiment behind BENCHMARKS.md, not the
product's ranking.
"""

from __future__ import annotations

import argparse
import collections
import math
import sqlite3
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
K1, B = 1.2, 0.75  # tantivy's BM25 constants


def main() -> None:
    from pipeline.config import Config
    from pipeline.evaluate import index_paragraphs, load_squad, paragraph_name
    from store.terms import query_words, terms

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad", default=str(SQUAD))
    args = parser.parse_args()
    questions, paragraphs = load_squad(args.squad)
    folder = Path(tempfile.mkdtemp(prefix="exact-bm25-"))
    store = index_paragraphs(paragraphs, folder / "squad.db", Config().ingest)
    paragraph_of = {paragraph_name(i): i for i in range(len(paragraphs))}

    db = sqlite3.connect(folder / "squad.db")
    texts = dict(db.execute("SELECT pk, text FROM passages"))
    path_of = dict(db.execute("SELECT passages.pk, files.path FROM passages JOIN files ON files.id = passages.file_id"))
    lengths = {pk: len(terms(text)) for pk, text in texts.items()}
    snapshot = store._search.snapshot()
    n = snapshot.passages
    average = sum(lengths.values()) / n

    def rescored(question: str, idf: str) -> list[int]:
        stems = list(dict.fromkeys(s for word in query_words(question) for s in terms(word)))
        scored = []
        for hit in snapshot.search(stems, 60):
            tf = collections.Counter(terms(texts[hit.pk]))
            score = 0.0
            for stem in stems:
                df = snapshot.doc_freq("text", stem)
                if df and tf[stem]:
                    weight = math.log(1 + (n - df + 0.5) / (df + 0.5)) if idf == "lucene" else max(1e-6, math.log((n - df + 0.5) / (df + 0.5)))
                    score += weight * tf[stem] * (K1 + 1) / (tf[stem] + K1 * (1 - B + B * lengths[hit.pk] / average))
            scored.append((-score, hit.pk))
        return [paragraph_of[path_of[pk]] for _, pk in sorted(scored)]

    rankings = {
        "tantivy (docqa's default)": lambda q: [paragraph_of[d.meta["file_path"]] for d in store.bm25_retrieval(q, 20)],
        "FTS5": lambda q: [paragraph_of[d.meta["file_path"]] for d in store.bm25_retrieval(q, 20, engine="fts5")],
        "tantivy's top 60, exact lengths, Lucene IDF": lambda q: rescored(q, "lucene"),
        "tantivy's top 60, exact lengths, FTS5's IDF": lambda q: rescored(q, "fts5"),
    }
    found = {name: [rank(q.question) for q in questions] for name, rank in rankings.items()}
    print(f"{len(questions)} questions, {n} passages")
    print("| ranking | R@1 | R@5 | R@20 |\n|---|---:|---:|---:|")
    for name, lists in found.items():
        hits = [sum(q.paragraph in ranked[:k] for q, ranked in zip(questions, lists)) for k in (1, 5, 20)]
        print(f"| {name} | {hits[0]} | {hits[1]} | {hits[2]} |")
    tantivy, fts5 = found["tantivy (docqa's default)"], found["FTS5"]
    for q, a, b in zip(questions, tantivy, fts5):
        if (q.paragraph in a) != (q.paragraph in b):
            print(f"at 20, {'tantivy' if q.paragraph in a else 'FTS5'} only: {q.question}")


if __name__ == "__main__":
    main()
