"""HTTP API under load: 64 concurrent clients on loopback, micro-batching on and off.

Starts `docqa serve` (the real command, stand-in model, CPU) over a database of the SQuAD
public half's paragraphs, runs `--clients` concurrent clients posting SQuAD questions to
/ask for `--seconds`, and records answered questions per second, errors and p50/p99
latency; then the same with api.micro_batching off, in the same run, `--repeats` times (the
order alternating), so that the ratio on/off is taken between neighbours. Traffic goes only
to 127.0.0.1 and stops by itself.

    python bench/api.py [--clients 64] [--seconds 60] [--retrieve-k 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
sys.path.insert(0, str(REPO))


async def load(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(timeout=600) as http:
            i = number
            while time.perf_counter() < stop:
                started = time.perf_counter()
                try:
                    response = await http.post(url + "/ask", json={"question": questions[i % len(questions)], "top_k": 1})
                    if response.status_code == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                i += clients

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return {
        "answered": len(latencies),
        "errors": errors,
        "seconds": elapsed,
        "qps": len(latencies) / elapsed,
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--retrieve-k", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from bench.api_fuzz import free_port, serve
    from bench.reader import cpu_name, standin
    from ingest.options import IngestOptions
    from pipeline.evaluate import index_paragraphs, load_squad

    questions, paragraphs = load_squad(SQUAD)
    work = Path(tempfile.mkdtemp(prefix="docqa-bench-api-"))
    db = work / "squad.db"
    index_paragraphs(paragraphs, db, IngestOptions()).close()
    runs: list[dict[bool, dict[str, float]]] = []
    for repeat in range(args.repeats):
        results = {}
        for batching in (True, False) if repeat % 2 == 0 else (False, True):
            config = work / f"batching-{batching}.yaml"
            config.write_text(
                f"store:\n  path: {db}\nretriever:\n  top_k: {args.retrieve_k}\n"
                f"reader:\n  model: {standin()}\n  device: cpu\n"
                f"api:\n  micro_batching: {'true' if batching else 'false'}\n  data_folder: {work / 'uploads'}\n",
                encoding="utf-8",
            )
            port = free_port()
            process = serve(config, port, work / f"serve-{'on' if batching else 'off'}.log")
            try:
                results[batching] = asyncio.run(load(f"http://127.0.0.1:{port}", [q.question for q in questions], args.clients, args.seconds))
            finally:
                process.terminate()
                process.wait(30)
            print(f"repeat {repeat + 1}, micro-batching {'on' if batching else 'off'}: {results[batching]}", file=sys.stderr)
        runs.append(results)

    print(
        f"\n{cpu_name()}; {args.clients} clients, {args.seconds:g} s each, "
        f"{args.retrieve_k} passages read per question, stand-in model\n"
    )
    print("| repeat | micro-batching | answered | errors | questions/s | p50 s | p99 s | on / off |\n|---:|---|---:|---:|---:|---:|---:|---:|")
    ratios = []
    for repeat, results in enumerate(runs, start=1):
        ratios.append(results[True]["qps"] / results[False]["qps"])
        for name, r in (("on", results[True]), ("off", results[False])):
            ratio = f"{ratios[-1]:.2f}x" if name == "on" else ""
            print(f"| {repeat} | {name} | {r['answered']} | {r['errors']} | {r['qps']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} |")
    print(f"\nthroughput on / off, median of {len(ratios)}: {statistics.median(ratios):.2f}x")


if __name__ == "__main__":
    main()
