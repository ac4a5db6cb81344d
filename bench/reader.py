"""Reader benchmarks: answers against transformers' QA pipeline, precision, speed against two peers, memory.

Two models from ../shared, read at run time: the trained fixture (models/qa-minilm-uncased,
a small BERT really trained for SQuAD) measures answer quality; the full-size stand-in
(tools/make_standin_model.py, written to the temporary folder: DistilBERT's architecture and
cost per token, random weights) measures speed and memory. Data: the SQuAD v1.1 dev public
half. The reference, transformers 4.57's question-answering pipeline (removed in
transformers 5), runs from its own virtual environment, which this script creates under
bench/out/.

    python bench/reader.py faithfulness [--questions N]   # fixture: docqa fp32 vs the pipeline, both decoding rules
    python bench/reader.py precision [--questions N]      # fixture: EM/F1 at fp32, bf16, int8 and auto
    python bench/reader.py speed [--questions 200] [--multi-questions 40] [--fixture-questions 400] [--repeats 3]
    python bench/reader.py memory [--questions 1000] [--passages 10]

Settings: (a) each question with its own paragraph; (b) each question with 10 paragraphs of
the public half, its own and 9 others. Peers run at their default fp32 on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SQUAD = SHARED / "data" / "squad" / "dev-v1.1-public.json"
FIXTURE = SHARED / "models" / "qa-minilm-uncased"
OUT = REPO / "bench" / "out"
REF_VENV = OUT / "ref-venv"
PARAMS = {"max_answer_len": 30, "max_seq_len": 384, "doc_stride": 128}
sys.path.insert(0, str(REPO))


def squad_questions() -> tuple[list[tuple[str, str]], list[str]]:
    """(question, own paragraph) in file order, and every paragraph of the file."""
    data = json.loads(SQUAD.read_text())["data"]
    pairs, paragraphs = [], []
    for article in data:
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            pairs.extend((qa["question"], paragraph["context"]) for qa in paragraph["qas"])
    return pairs, paragraphs


def with_distractors(pairs: list[tuple[str, str]], paragraphs: list[str], n: int, seed: int = 0) -> list[list[str]]:
    """Each question's own paragraph followed by n - 1 others drawn at random (fixed seed)."""
    rng = random.Random(seed)
    out = []
    for _, own in pairs:
        others = [p for p in rng.sample(paragraphs, n + 1) if p != own][: n - 1]
        out.append([own, *others])
    return out


def standin(uncased: bool = False) -> Path:
    path = Path(tempfile.gettempdir()) / ("docqa-standin-uncased" if uncased else "docqa-standin")
    if not (path / "model.safetensors").exists():
        args = [sys.executable, str(SHARED / "tools" / "make_standin_model.py"), str(path)] + (["--uncased"] if uncased else [])
        subprocess.run(args, check=True)
    return path


def reference_python() -> Path:
    """The interpreter of a venv with transformers 4.57 (the last with the QA pipeline)."""
    python = REF_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(pip + ["torch==2.13.0"], check=True)  # the local CPU build; no CUDA download
        subprocess.run(pip + ["transformers==4.57.*"], check=True)
    return python


def run_reference(model: Path, items: list[dict]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.json", Path(tmp) / "out.json"
        source.write_text(json.dumps({"items": items, **PARAMS}))
        subprocess.run(
            [str(reference_python()), str(REPO / "bench" / "reference_pipeline.py"), str(model), str(source), str(target)],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        return json.loads(target.read_text())


def docqa_reader(model: Path, precision: str = "auto"):
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    reader = Reader(ReaderConfig(model=str(model), device="cpu", precision=precision, **PARAMS))
    reader.warm_up()
    return reader


def documents(contexts: list[str]) -> list:
    from store.haystack_compat import Document

    return [Document(content=c) for c in contexts]


def window_counts(model: Path, pairs: list[tuple[str, str]]) -> list[int]:
    """How many windows of max_seq_len with doc_stride each (question, paragraph) pair needs."""
    from collections import Counter

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model))
    encoded = tokenizer(
        [q for q, _ in pairs], [c for _, c in pairs], truncation="only_second", return_overflowing_tokens=True,
        max_length=PARAMS["max_seq_len"], stride=PARAMS["doc_stride"],
    )
    counts = Counter(encoded["overflow_to_sample_mapping"])
    return [counts[i] for i in range(len(pairs))]


def squad(limit: int | None):
    from pipeline.evaluate import load_squad

    questions, _ = load_squad(SQUAD, limit)
    return questions


def scores(predictions: dict[str, str], questions: list) -> str:
    from pipeline.evaluate import squad_scores

    result = squad_scores({q.id: predictions[q.id] for q in questions}, questions)
    return f"{result['exact_match']:.2f} | {result['f1']:.2f}"


def read_fixture(questions: list, precision: str) -> tuple[dict[str, str], float]:
    """docqa's top answer for each question read against its own paragraph, and the seconds it took."""
    reader = docqa_reader(FIXTURE, precision)
    start = time.perf_counter()
    answers = reader.read_batch([q.question for q in questions], [documents([q.context]) for q in questions], top_k=1, show_progress=True)
    seconds = time.perf_counter() - start
    return {q.id: (a[0].text if a else "") for q, a in zip(questions, answers)}, seconds


def faithfulness(args: argparse.Namespace) -> None:
    """docqa (fp32) against the transformers 4.57 pipeline on the fixture: same top answers, and both decoding rules."""
    questions = squad(args.questions)
    print(f"reference: transformers question-answering pipeline, {len(questions)} questions...", file=sys.stderr)
    reference = run_reference(FIXTURE, [{"question": q.question, "contexts": [q.context]} for q in questions])
    theirs = {q.id: a[0]["answer"] for q, a in zip(questions, reference["answers"])}
    ours, seconds = read_fixture(questions, "fp32")
    windows = window_counts(FIXTURE, [(q.question, q.context) for q in questions])

    single = [q for q, n in zip(questions, windows) if n == 1]
    multi = [q for q, n in zip(questions, windows) if n > 1]
    disagreements = [
        {"id": q.id, "windows": n, "docqa": ours[q.id], "reference": theirs[q.id]}
        for q, n in zip(questions, windows)
        if ours[q.id].strip() != theirs[q.id].strip()
    ]
    print(f"\nModel: {FIXTURE.name} (fp32, CPU); reference: transformers {reference['transformers']} pipeline")
    print("\n| questions | same top answer | share |\n|---|---:|---:|")
    for label, subset in (("all", questions), ("paragraph fits one 384-token window", single), ("paragraph read in 2+ windows", multi)):
        differ = sum(1 for d in disagreements if d["id"] in {q.id for q in subset})
        share = f"{(len(subset) - differ) / len(subset):.2%}" if subset else "-"
        print(f"| {label}: {len(subset)} | {len(subset) - differ} | {share} |")
    print("\n| decoding rule | questions | EM | F1 |\n|---|---|---:|---:|")
    for label, subset in (("all", questions), ("2+ windows", multi)):
        print(f"| docqa: raw start+end logit sum compared across windows | {label}: {len(subset)} | {scores(ours, subset)} |")
        print(f"| transformers 4.57: per-window softmax | {label}: {len(subset)} | {scores(theirs, subset)} |")
    print(f"\ndocqa {len(questions) / seconds:.2f} q/s, reference {len(questions) / reference['seconds']:.2f} q/s (this run)")
    OUT.mkdir(exist_ok=True)
    (OUT / "faithfulness-disagreements.json").write_text(json.dumps(disagreements, indent=1, ensure_ascii=False))
    (OUT / "predictions-fixture-fp32.json").write_text(json.dumps(ours, indent=1, ensure_ascii=False))
    (OUT / "predictions-fixture-reference.json").write_text(json.dumps(theirs, indent=1, ensure_ascii=False))


def precision(args: argparse.Namespace) -> None:
    """EM/F1 of docqa on the fixture at each precision, and the loss against fp32 (when fp32 is among the modes)."""
    from pipeline.evaluate import squad_scores
    from pipeline.reader.precision import cpu_bf16_flag, resolve_precision

    questions = squad(args.questions)
    results = {mode: read_fixture(questions, mode) for mode in args.modes.split(",")}
    auto, why = resolve_precision("auto", "cpu", cpu_bf16_flag())
    base = squad_scores(results["fp32"][0], questions)["f1"] if "fp32" in results else None
    print(f"\nModel: {FIXTURE.name}, {len(questions)} questions, each with its own paragraph; CPU: {cpu_name()}")
    print(f"auto here: {auto} ({why})")
    print("\n| precision | EM | F1 | F1 loss vs fp32 | questions/s (this run) |\n|---|---:|---:|---:|---:|")
    OUT.mkdir(exist_ok=True)
    for mode, (predictions, seconds) in results.items():
        f1 = squad_scores(predictions, questions)["f1"]
        loss = f"{base - f1:.2f}" if base is not None else "-"
        print(f"| {mode} | {scores(predictions, questions)} | {loss} | {len(questions) / seconds:.2f} |")
        (OUT / f"predictions-fixture-{mode}.json").write_text(json.dumps(predictions, indent=1, ensure_ascii=False))


def retrieved_passages(questions: int, depth: int = 20) -> tuple[Any, list[str], list[list[Any]]]:
    """A QA over the public half's paragraphs (a fresh temporary index), its first `questions`
    questions, and the `depth` passages retrieved for each (FTS5), best first."""
    from ingest.options import IngestOptions
    from pipeline.config import Config, RetrieverConfig, StoreConfig
    from pipeline.evaluate import index_paragraphs, load_squad
    from pipeline.qa import QA

    loaded, paragraphs = load_squad(SQUAD)
    db = Path(tempfile.mkdtemp(prefix="docqa-bench-")) / "squad.db"
    index_paragraphs(paragraphs, db, IngestOptions()).close()
    qa = QA(Config(store=StoreConfig(path=str(db)), retriever=RetrieverConfig(top_k=depth)))
    asked = [q.question for q in loaded[:questions]]
    return qa, asked, [qa.retrieve(q, qa.options(retrieve_k=depth))[:depth] for q in asked]


def cpu_name() -> str:
    from pipeline.reader.precision import cpu_bf16_flag

    try:
        info = Path("/proc/cpuinfo").read_text()
        name = next(line.partition(":")[2].strip() for line in info.splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        name = "unknown CPU"
    return f"{name}, {os.cpu_count()} cores, bf16 flag: {cpu_bf16_flag() or 'none'}"


def speed(args: argparse.Namespace) -> None:
    """Seconds per setting, each reader in turn within every repeat (so all see the same machine load)."""
    from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

    from pipeline.reader.precision import cpu_bf16_flag, resolve_precision

    pairs, paragraphs = squad_questions()
    model = standin()
    auto = resolve_precision("auto", "cpu", cpu_bf16_flag())[0]
    # setting -> (model, questions, contexts per question, docqa precisions, peers)
    settings = {
        "a": (model, pairs[: args.questions], [[c] for _, c in pairs[: args.questions]], ("fp32", "bf16", "int8"), True),
        "b": (model, pairs[: args.multi_questions], with_distractors(pairs[: args.multi_questions], paragraphs, 10), ("fp32", "bf16", "int8"), True),
        "a, fixture": (FIXTURE, pairs[: args.fixture_questions], [[c] for _, c in pairs[: args.fixture_questions]], ("fp32", "bf16"), False),
    }
    readers = {(m, p): docqa_reader(m, p) for m, _, _, precisions, _ in settings.values() for p in precisions}
    haystack = TransformersExtractiveReader(model=str(model), top_k=1, max_seq_length=PARAMS["max_seq_len"], stride=PARAMS["doc_stride"])
    haystack.warm_up()
    docs = {key: [documents(ctx) for ctx in contexts] for key, (_, _, contexts, _, _) in settings.items()}

    times: dict[tuple[str, str], list[float]] = {}
    for repeat in range(args.repeats):
        for key, (m, qs, contexts, precisions, with_haystack) in settings.items():
            questions = [q for q, _ in qs]
            for p in precisions:
                start = time.perf_counter()
                readers[(m, p)].read_batch(questions, docs[key], top_k=1)
                name = f"docqa {p}" + (" (auto here: the default)" if p == auto else "")
                times.setdefault((key, name), []).append(time.perf_counter() - start)
            if with_haystack:
                start = time.perf_counter()
                for question, ds in zip(questions, docs[key]):
                    haystack.run(query=question, documents=ds)
                times.setdefault((key, "Haystack TransformersExtractiveReader fp32"), []).append(time.perf_counter() - start)
            reference = run_reference(m, [{"question": q, "contexts": c} for q, c in zip(questions, contexts)])
            times.setdefault((key, "transformers 4.57 pipeline fp32"), []).append(reference["seconds"])
            print(f"repeat {repeat + 1} setting {key}: " + ", ".join(f"{n} {v[-1]:.1f}s" for (k, n), v in times.items() if k == key), file=sys.stderr)

    print(f"\nCPU: {cpu_name()}; torch threads {__import__('torch').get_num_threads()}; median of {args.repeats} runs")
    for key, (m, qs, contexts, _, _) in settings.items():
        n_q, n_p = len(qs), sum(len(c) for c in contexts)
        label = "own paragraph" if key.startswith("a") else "10 paragraphs each"
        peers = {name: statistics.median(v) for (k, name), v in times.items() if k == key and not name.startswith("docqa")}
        fastest_peer = min(peers.values())
        print(f"\n({key}) model {m.name}: {n_q} questions, {label}, {n_p} passages\n")
        print("| reader | seconds | questions/s | passages/s | vs faster peer |\n|---|---:|---:|---:|---:|")
        for (k, name), v in times.items():
            if k == key:
                t = statistics.median(v)
                print(f"| {name} | {t:.1f} | {n_q / t:.2f} | {n_p / t:.2f} | {fastest_peer / t:.2f}x |")


def memory(args: argparse.Namespace) -> None:
    pairs, paragraphs = squad_questions()
    pairs = pairs[: args.questions]
    contexts = with_distractors(pairs, paragraphs, args.passages)
    reader = docqa_reader(standin(), "fp32")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    answers = reader.read_batch([q for q, _ in pairs], [documents(c) for c in contexts], top_k=1, show_progress=True)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert len(answers) == len(pairs) and all(answers)
    print(f"\n{len(pairs)} questions x {args.passages} passages in one read_batch call, fp32 CPU: {seconds:.0f} s "
          f"({len(pairs) / seconds:.2f} q/s); peak RSS {peak:.0f} MB (after loading the model: {before:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("faithfulness")
    f.add_argument("--questions", type=int, default=None, help="the first N questions (default: all 5,397)")
    q = sub.add_parser("precision")
    q.add_argument("--questions", type=int, default=None, help="the first N questions (default: all 5,397)")
    q.add_argument("--modes", default="fp32,bf16,int8", help="comma-separated precisions (default: fp32,bf16,int8)")
    s = sub.add_parser("speed")
    s.add_argument("--questions", type=int, default=200)
    s.add_argument("--multi-questions", type=int, default=40)
    s.add_argument("--fixture-questions", type=int, default=400)
    s.add_argument("--repeats", type=int, default=3)
    m = sub.add_parser("memory")
    m.add_argument("--questions", type=int, default=1000)
    m.add_argument("--passages", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    {"faithfulness": faithfulness, "precision": precision, "speed": speed, "memory": memory}[args.command](args)


if __name__ == "__main__":
    main()
