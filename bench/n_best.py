"""Spans kept per window: `docqa ask` at 20 passages with the old rule (2 x top_k + 10 = 410)
against the default (2 x the passage's share + 10 = 30).

Each question's 20 passages are retrieved once beforehand (FTS5 over the SQuAD public half's
paragraphs) and read as `docqa ask` reads them (one call, top_k = QA.candidates: 200), by the
trained fixture (small: the decoding is a large part of its time) and by the full-size
stand-in (the real cost per token of the default model). Both rules are timed in the same
run, in turn, `--repeats` times; medians.

    python bench/n_best.py [--precision auto] [--questions 40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OLD_RULE = 410  # 2 x 200 + 10: the question's whole top_k asked of every window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from bench.reader import FIXTURE, cpu_name, retrieved_passages, standin
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    qa, asked, twenty = retrieved_passages(args.questions)
    top_k = qa.candidates(1, 20)

    rows = []
    for name, model in (("fixture", FIXTURE), ("stand-in", standin())):
        readers = {rule: Reader(ReaderConfig(model=str(model), device="cpu", precision=args.precision, n_best_per_window=rule)) for rule in (OLD_RULE, None)}
        first = readers[OLD_RULE]
        first.warm_up()
        readers[None]._loaded = first._loaded  # one model in memory; only the rule differs
        first.read_batch(asked[:2], twenty[:2], top_k=top_k)  # warm the allocator and the kernels
        seconds: dict[int | None, list[float]] = {}
        for repeat in range(args.repeats):
            for rule, reader in readers.items():
                started = time.perf_counter()
                for q, passages in zip(asked, twenty):
                    reader.read_batch([q], [passages], top_k=top_k)
                seconds.setdefault(rule, []).append(time.perf_counter() - started)
            print(f"{name}: repeat {repeat + 1} of {args.repeats} done", file=sys.stderr)
        old, new = statistics.median(seconds[OLD_RULE]), statistics.median(seconds[None])
        rows.append((name, first._loaded.precision, len(asked) / old, len(asked) / new, old / new))

    print(f"\n{cpu_name()}, {len(asked)} questions x 20 passages, top_k {top_k}, medians of {args.repeats}\n")
    print("| model | precision | 410 a window, q/s | 30 a window (default), q/s | speed-up |")
    print("|---|---|---:|---:|---:|")
    for name, precision, old_rate, new_rate, ratio in rows:
        print(f"| {name} | {precision} | {old_rate:.2f} | {new_rate:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
