"""Tokens per forward pass on a CPU: how fast the reader reads at each `reader.batch_tokens`.

Three workloads over the SQuAD public half's paragraphs, each question's passages retrieved
once beforehand (FTS5), read by the full-size stand-in (the real cost per token):
  single     one question and its 2 passages per call (the API with micro-batching off);
  coalesced  32 questions x 2 passages per call (a micro-batch of the API);
  ask        one question and its 20 passages per call (`docqa ask` at retriever.top_k 20).
Every budget and the single-question peer are timed in the same run, in turn, `--repeats`
times; the table gives medians and each budget's speed relative to 16,384 (the old default).

    python bench/batch_tokens.py [--precision auto] [--questions 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BUDGETS = (384, 768, 1024, 2048, 4096, 16384)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--questions", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from bench.reader import cpu_name, retrieved_passages, standin
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    qa, asked, twenty = retrieved_passages(args.questions)
    two = [passages[:2] for passages in twenty]

    readers = {
        budget: Reader(ReaderConfig(model=str(standin()), device="cpu", precision=args.precision, batch_tokens=budget))
        for budget in BUDGETS
    }
    first = readers[BUDGETS[0]]
    first.warm_up()
    for reader in readers.values():
        reader._loaded = first._loaded  # one model in memory; only the budget differs
    candidates = qa.candidates(1, 2)

    workloads = {
        "single": lambda r: [r.read_batch([q], [p], top_k=candidates) for q, p in zip(asked, two)],
        "coalesced": lambda r: [r.read_batch(asked[i : i + 32], two[i : i + 32], top_k=candidates) for i in range(0, len(asked), 32)],
        "ask": lambda r: [r.read_batch([q], [p], top_k=qa.candidates(1, 20)) for q, p in zip(asked, twenty)],
    }
    seconds: dict[tuple[str, int], list[float]] = {}
    workloads["single"](readers[16384])  # warm the allocator and the kernels
    for repeat in range(args.repeats):
        for name, work in workloads.items():
            for budget, reader in readers.items():
                started = time.perf_counter()
                work(reader)
                seconds.setdefault((name, budget), []).append(time.perf_counter() - started)
        print(f"repeat {repeat + 1} of {args.repeats} done", file=sys.stderr)

    precision = first._loaded.precision
    print(f"\n{cpu_name()}, {len(asked)} questions, stand-in model, {precision}, medians of {args.repeats}\n")
    print("| batch_tokens | " + " | ".join(f"{name} q/s (vs 16,384)" for name in workloads) + " |")
    print("|---:|" + "---:|" * len(workloads))
    for budget in BUDGETS:
        cells = []
        for name in workloads:
            median = statistics.median(seconds[(name, budget)])
            reference = statistics.median(seconds[(name, 16384)])
            cells.append(f"{len(asked) / median:.2f} ({reference / median:.2f}x)")
        print(f"| {budget:,} | " + " | ".join(cells) + " |")
    single = statistics.median(seconds[("single", 16384)])
    for budget in BUDGETS:
        coalesced = statistics.median(seconds[("coalesced", budget)])
        print(f"coalesced at {budget:,} / single: {single / coalesced:.2f}x")


if __name__ == "__main__":
    main()
