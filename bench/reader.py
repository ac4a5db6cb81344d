"""Reader benchmarks: faithfulness to transformers' QA pipeline, speed against two peers, memory.

Uses the full-size stand-in model (../shared/tools/make_standin_model.py: the real
architecture and cost per token, random weights) and the SQuAD v1.1 dev public half.
The reference, transformers 4.57's question-answering pipeline (removed in transformers 5),
runs from its own virtual environment, which this script creates under bench/out/.

    python bench/reader.py faithfulness [--questions 1000]
    python bench/reader.py speed [--questions 200] [--multi-questions 40] [--repeats 3]
    python bench/reader.py memory [--questions 1000] [--passages 10]

Settings: (a) each question with its own paragraph; (b) each question with 10 paragraphs of
the public half, its own and 9 others. All at fp32 on the CPU unless a row says otherwise.
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

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SQUAD = SHARED / "data" / "squad" / "dev-v1.1-public.json"
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
    path = OUT / ("standin-uncased" if uncased else "standin")
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


def docqa_reader(model: Path, precision: str = "fp32"):
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    reader = Reader(ReaderConfig(model=str(model), device="cpu", precision=precision, **PARAMS))
    reader.warm_up()
    return reader


def documents(contexts: list[str]) -> list:
    from store.haystack_compat import Document

    return [Document(content=c) for c in contexts]


def faithfulness(args: argparse.Namespace) -> None:
    from collections import Counter

    pairs, _ = squad_questions()
    pairs = pairs[: args.questions]
    model = standin(args.uncased)
    items = [{"question": q, "contexts": [c]} for q, c in pairs]
    print(f"reference: transformers question-answering pipeline, {len(items)} questions...", file=sys.stderr)
    reference = run_reference(model, items)
    reader = docqa_reader(model)
    start = time.perf_counter()
    ours = reader.read_batch([q for q, _ in pairs], [documents([c]) for _, c in pairs], top_k=1, show_progress=True)
    seconds = time.perf_counter() - start

    tokenizer = reader._loaded.tokenizer
    encoded = tokenizer([q for q, _ in pairs], [c for _, c in pairs], truncation="only_second", return_overflowing_tokens=True, **{"max_length": PARAMS["max_seq_len"], "stride": PARAMS["doc_stride"]})
    windows = Counter(encoded["overflow_to_sample_mapping"])
    agree = {"single": [0, 0], "multi": [0, 0]}
    disagreements = []
    for i, (mine, theirs) in enumerate(zip(ours, reference["answers"])):
        kind = "multi" if windows[i] > 1 else "single"
        same = bool(mine) and mine[0].text.strip() == theirs[0]["answer"].strip()
        agree[kind][0] += same
        agree[kind][1] += 1
        if not same:
            disagreements.append({"index": i, "windows": windows[i], "docqa": mine[0].text if mine else None, "reference": theirs[0]["answer"]})
    total = agree["single"][0] + agree["multi"][0]
    print(f"\nModel: stand-in ({'uncased' if args.uncased else 'cased'}); reference: transformers {reference['transformers']} pipeline")
    print("| questions | agree | share |\n|---|---:|---:|")
    print(f"| all {len(pairs)} | {total} | {total / len(pairs):.2%} |")
    for kind, label in (("single", "paragraph fits one 384-token window"), ("multi", "paragraph read in 2+ windows")):
        a, n = agree[kind]
        print(f"| {label}: {n} | {a} | {a / n:.2%} |" if n else f"| {label}: 0 | - | - |")
    print(f"\ndocqa {len(pairs) / seconds:.2f} q/s, reference {len(pairs) / reference['seconds']:.2f} q/s (this run)")
    OUT.mkdir(exist_ok=True)
    (OUT / "faithfulness-disagreements.json").write_text(json.dumps(disagreements, indent=1, ensure_ascii=False))


def speed(args: argparse.Namespace) -> None:
    from haystack_integrations.components.readers.transformers import TransformersExtractiveReader

    pairs, paragraphs = squad_questions()
    model = standin()
    settings = {
        "a": ([q for q, _ in pairs[: args.questions]], [[c] for _, c in pairs[: args.questions]]),
        "b": (
            [q for q, _ in pairs[: args.multi_questions]],
            with_distractors(pairs[: args.multi_questions], paragraphs, 10),
        ),
    }
    readers = {precision: docqa_reader(model, precision) for precision in ("fp32", "bf16", "int8")}
    haystack = TransformersExtractiveReader(model=str(model), top_k=1, max_seq_length=PARAMS["max_seq_len"], stride=PARAMS["doc_stride"])
    haystack.warm_up()
    docs = {key: [documents(ctx) for ctx in contexts] for key, (_, contexts) in settings.items()}

    times: dict[tuple[str, str], list[float]] = {}
    for repeat in range(args.repeats):
        for key, (questions, contexts) in settings.items():
            for precision, reader in readers.items():
                start = time.perf_counter()
                reader.read_batch(questions, docs[key], top_k=1)
                times.setdefault((key, f"docqa {precision}"), []).append(time.perf_counter() - start)
            start = time.perf_counter()
            for question, ds in zip(questions, docs[key]):
                haystack.run(query=question, documents=ds)
            times.setdefault((key, "Haystack TransformersExtractiveReader"), []).append(time.perf_counter() - start)
            reference = run_reference(model, [{"question": q, "contexts": c} for q, c in zip(questions, contexts)])
            times.setdefault((key, "transformers 4.57 pipeline"), []).append(reference["seconds"])
            print(f"repeat {repeat + 1} setting {key}: " + ", ".join(f"{n} {v[-1]:.1f}s" for (k, n), v in times.items() if k == key), file=sys.stderr)

    print(f"\nCPU: {os.cpu_count()} cores, torch threads {__import__('torch').get_num_threads()}; median of {args.repeats} runs")
    for key, (questions, contexts) in settings.items():
        n_q = len(questions)
        label = "own paragraph" if key == "a" else "10 paragraphs each"
        peers = {name: statistics.median(v) for (k, name), v in times.items() if k == key and not name.startswith("docqa")}
        fastest_peer = min(peers.values())
        print(f"\n({key}) {n_q} questions, {label}, {sum(len(c) for c in contexts)} passages\n")
        print("| reader | seconds | questions/s | passages/s | vs faster peer |\n|---|---:|---:|---:|---:|")
        for (k, name), v in times.items():
            if k != key:
                continue
            t = statistics.median(v)
            print(f"| {name} | {t:.1f} | {n_q / t:.2f} | {sum(len(c) for c in contexts) / t:.2f} | {fastest_peer / t:.2f}x |")


def memory(args: argparse.Namespace) -> None:
    pairs, paragraphs = squad_questions()
    pairs = pairs[: args.questions]
    contexts = with_distractors(pairs, paragraphs, args.passages)
    reader = docqa_reader(standin())
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
    f.add_argument("--questions", type=int, default=1000)
    f.add_argument("--uncased", action="store_true")
    s = sub.add_parser("speed")
    s.add_argument("--questions", type=int, default=200)
    s.add_argument("--multi-questions", type=int, default=40)
    s.add_argument("--repeats", type=int, default=3)
    m = sub.add_parser("memory")
    m.add_argument("--questions", type=int, default=1000)
    m.add_argument("--passages", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    {"faithfulness": faithfulness, "speed": speed, "memory": memory}[args.command](args)


if __name__ == "__main__":
    main()
