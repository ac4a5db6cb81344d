"""End to end: `docqa ask --batch` over the SQuAD public half against a Haystack pipeline.

docqa: the real CLI, `docqa ask --batch` over every question of the public half (5,397),
reading --retrieve-k passages per question from a database where each paragraph is its
own document (docqa's splitter). Haystack: InMemoryBM25Retriever + TransformersExtractiveReader
in a haystack.Pipeline over the same passages, reading the same number of passages per
question, on the first --haystack-questions questions (its rate is per question, so a
sample measures it; said so in the output). Stand-in model, CPU.

    python bench/end_to_end.py [--retrieve-k 2] [--haystack-questions 500] [--precision fp32]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--retrieve-k", type=int, default=2)
    parser.add_argument("--haystack-questions", type=int, default=500)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--limit", type=int, default=None, help="docqa: only the first N questions")
    args = parser.parse_args()
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

    from bench.reader import standin
    from ingest.options import IngestOptions
    from pipeline.evaluate import index_paragraphs, load_squad

    model = standin()
    questions, paragraphs = load_squad(SQUAD, args.limit)
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-e2e-"))
    db = work / "squad.db"
    store = index_paragraphs(paragraphs, db, IngestOptions())
    passages = store.filter_documents()
    store.close()
    (work / "questions.txt").write_text("\n".join(q.question for q in questions) + "\n", encoding="utf-8")
    config = work / "docqa.yaml"
    config.write_text(f"store:\n  path: {db}\nreader:\n  model: {model}\n  device: cpu\n  precision: {args.precision}\n", encoding="utf-8")

    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "ask", "--batch", str(work / "questions.txt"), "--out", str(work / "answers.jsonl"),
         "--retrieve-k", str(args.retrieve_k), "--config", str(config)],
        check=True,
        cwd=REPO,
    )
    docqa_seconds = time.perf_counter() - started
    answered = sum(1 for _ in open(work / "answers.jsonl"))
    assert answered == len(questions), (answered, len(questions))

    from store import haystack_compat  # noqa: F401
    from haystack import Document, Pipeline
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

    memory = InMemoryDocumentStore()
    memory.write_documents([Document(content=p.content, meta=p.meta) for p in passages])
    pipe = Pipeline()
    pipe.add_component("retriever", InMemoryBM25Retriever(memory, top_k=args.retrieve_k))
    pipe.add_component("reader", TransformersExtractiveReader(model=str(model), top_k=1))
    pipe.connect("retriever.documents", "reader.documents")
    pipe.warm_up()
    sample = questions[: args.haystack_questions]
    pipe.run({"retriever": {"query": sample[0].question}, "reader": {"query": sample[0].question}})  # warm-up
    started = time.perf_counter()
    for q in sample:
        pipe.run({"retriever": {"query": q.question}, "reader": {"query": q.question}})
    haystack_seconds = time.perf_counter() - started

    docqa_rate = len(questions) / docqa_seconds
    haystack_rate = len(sample) / haystack_seconds
    print(f"\n{len(paragraphs)} paragraphs -> {len(passages)} passages; {args.retrieve_k} passages read per question; CPU {os.cpu_count()} cores\n")
    print("| pipeline | questions | seconds | questions/s | vs Haystack |\n|---|---:|---:|---:|---:|")
    print(f"| docqa ask --batch ({args.precision}, whole CLI run incl. model load) | {len(questions)} | {docqa_seconds:.0f} | {docqa_rate:.2f} | {docqa_rate / haystack_rate:.2f}x |")
    print(f"| Haystack InMemoryBM25Retriever + TransformersExtractiveReader (fp32; first {len(sample)} questions) | {len(sample)} | {haystack_seconds:.0f} | {haystack_rate:.2f} | 1.00x |")


if __name__ == "__main__":
    main()
