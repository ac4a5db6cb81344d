"""Ray scaling: indexing (pages/s) and batch questions (questions/s) with 1 and 2 Ray nodes/actors,
against the single-machine path in the same run, and the overhead of starting a job.

The cluster is `ray.cluster_utils.Cluster` on this machine, on loopback, with one CPU per
node: on these 2-core machines "2 nodes" is both cores, as the single-machine path's
2 worker processes (indexing) or 2 torch threads (reading) are. Questions use the full-size
stand-in (`../shared/tools/make_standin_model.py`) over the SQuAD public half's
paragraphs, each question reading its own paragraph and one other.

    python bench/ray_scaling.py [--pdfs 60] [--pages 10] [--questions 96] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep the cluster on loopback
REPO = Path(__file__).resolve().parents[1]
SQUAD = REPO.parent / "shared" / "data" / "squad" / "dev-v1.1-public.json"
sys.path.insert(0, str(REPO))


def start_cluster(nodes: int):  # type: ignore[no-untyped-def]
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "object_store_memory": 200 << 20})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=1, object_store_memory=200 << 20)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    return cluster


def stop_cluster(cluster) -> None:  # type: ignore[no-untyped-def]
    import ray

    ray.shutdown()
    cluster.shutdown()


def index_once(folder: Path, ray_address: str | None) -> float:
    from ingest.indexer import index_paths
    from ingest.options import IngestOptions
    from store.document_store import SQLiteDocumentStore

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteDocumentStore(Path(tmp) / "i.db")
        started = time.perf_counter()
        report = index_paths(store, [folder], IngestOptions(), show_progress=False, ray_address=ray_address)
        seconds = time.perf_counter() - started
        store.close()
    assert report.failed == 0 and report.indexed > 0, report.summary()
    return seconds


def ask_once(qa, questions: list[str], passages: list) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    qa.answer(questions, passages, top_k=1)
    return time.perf_counter() - started


def print_table(seconds: dict[str, list[float]], work: int, unit: str, rate: str) -> None:
    """Median seconds, rate and speed against the first run (the single machine) of each run."""
    print(f"| run | seconds | {unit} | vs single machine |\n|---|---:|---:|---:|")
    base = statistics.median(next(iter(seconds.values())))
    for name, values in seconds.items():
        m = statistics.median(values)
        print(f"| {name} | {m:.2f} | {rate.format(work / m)} | {base / m:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=int, default=60)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--questions", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from haystack import Document

    from bench.reader import standin
    from pipeline.config import Config, RayConfig, ReaderConfig, StoreConfig
    from pipeline.evaluate import load_squad
    from pipeline.qa import QA
    from pipeline.reader.ray_pool import RayReader
    from store.document_store import SQLiteDocumentStore
    from tests.corpus import write_corpus

    work = Path(tempfile.mkdtemp(prefix="docqa-bench-ray-"))
    write_corpus(work / "docs", pdfs=args.pdfs, texts=0, pages=args.pages)
    (work / "one").mkdir()
    write_corpus(work / "one", pdfs=1, texts=0, pages=1)
    pages = args.pdfs * args.pages

    rng = random.Random(0)
    squad, paragraphs = load_squad(SQUAD)
    picked = rng.sample(squad, args.questions)
    questions = [q.question for q in picked]
    passages = [[Document(content=q.context), Document(content=paragraphs[rng.randrange(len(paragraphs))])] for q in picked]
    config = Config(store=StoreConfig(path=str(work / "empty.db")), reader=ReaderConfig(model=str(standin()), device="cpu"))
    SQLiteDocumentStore(config.store.path).close()

    index_seconds: dict[str, list[float]] = {}
    ask_seconds: dict[str, list[float]] = {}
    overhead: dict[str, list[float]] = {}
    local_qa = QA(config)
    local_qa.reader.warm_up()
    ask_once(local_qa, questions[:4], passages[:4])
    for nodes in (1, 2):
        cluster = start_cluster(nodes)
        try:
            name = f"ray, {nodes} node{'s' if nodes > 1 else ''}"
            for _ in range(args.repeats):
                # Alternate with the single-machine peer, so both see the same machine load.
                index_seconds.setdefault("single machine, 2 worker processes", []).append(index_once(work / "docs", None))
                index_seconds.setdefault(name, []).append(index_once(work / "docs", cluster.address))
                overhead.setdefault("single machine: index 1 one-page PDF", []).append(index_once(work / "one", None))
                overhead.setdefault(f"{name}: index 1 one-page PDF", []).append(index_once(work / "one", cluster.address))
            # The reader actors hold a CPU each from here on, so they start after the indexing.
            started = time.perf_counter()
            reader = RayReader(config.reader, RayConfig(actors=nodes), cluster.address)
            ray_qa = QA(config, reader=reader)
            ask_once(ray_qa, questions[:1], passages[:1])  # the actors have loaded their model
            overhead.setdefault(f"{name}: reader actors ready (model loaded)", []).append(time.perf_counter() - started)
            for _ in range(args.repeats):
                ask_seconds.setdefault("single machine (2 torch threads)", []).append(ask_once(local_qa, questions, passages))
                ask_seconds.setdefault(f"{name} ({nodes} actor{'s' if nodes > 1 else ''} x 1 thread)", []).append(ask_once(ray_qa, questions, passages))
            reader.shutdown()
        finally:
            stop_cluster(cluster)

    from bench.reader import cpu_name
    from pipeline.reader.precision import cpu_bf16_flag, resolve_precision

    print(f"\nCPU: {cpu_name()}; median of {args.repeats}\n")
    print(f"Indexing {args.pdfs} PDFs x {args.pages} pages ({pages} pages):\n")
    print_table(index_seconds, pages, "pages/s", "{:.0f}")
    precision = resolve_precision(config.reader.precision, "cpu", cpu_bf16_flag())[0]
    print(f"\nBatch questions: {args.questions} questions x 2 paragraphs, full-size stand-in, {precision} (reader.precision auto here):\n")
    print_table(ask_seconds, args.questions, "questions/s", "{:.2f}")
    print("\nJob start overhead:\n\n| what | seconds |\n|---|---:|")
    for name, values in overhead.items():
        print(f"| {name} | {statistics.median(values):.2f} |")


if __name__ == "__main__":
    main()
