"""The measurements of bench/gpu.py, one function per part; each returns plain JSON-able figures.

Imported only after the carried wheels are installed (gpu_carry.install_wheels), since they
import docqa, which needs them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bench.gpu_checks import Candidate, Shape, agreement, matmul_flops, model_shape, reading_flops, sequence_flops, verdict

REPO = Path(__file__).resolve().parents[1]
PARAMS = {"max_answer_len": 30, "max_seq_len": 384, "doc_stride": 128}  # as bench/reader.py
FIXTURE_TOP_K = 5  # candidates kept per question, for the near-tie rule


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def environment(device: torch.device) -> dict[str, Any]:
    import transformers

    from bench.reader import cpu_name

    env: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__, "python": sys.version.split()[0],
                           "cpu": cpu_name(), "device": str(device)}  # fmt: skip
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(device_name=props.name, multiprocessors=props.multi_processor_count, memory_gib=round(props.total_memory / 2**30, 1))
        try:
            query = "name,driver_version,clocks.sm,clocks.mem,clocks.max.sm,power.draw,temperature.gpu"
            env["nvidia_smi"] = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
                                               capture_output=True, text=True, timeout=20).stdout.strip()  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            env["nvidia_smi"] = f"not run: {exc}"
    else:
        env["device_name"] = f"CPU ({env['cpu']})"
    return env


def matmul_rate(device: torch.device, n: int, dtype: torch.dtype = torch.bfloat16, repeats: int = 10) -> dict[str, Any]:
    """The chip's dense matrix rate as measured here: n x n products on random data (never zeros,
    which run faster), 3 warm-ups, the median of `repeats` timed with CUDA events."""
    generator = torch.Generator(device=device).manual_seed(0)
    pairs = [(torch.randn(n, n, device=device, dtype=dtype, generator=generator), torch.randn(n, n, device=device, dtype=dtype, generator=generator))
             for _ in range(2)]  # fmt: skip
    for a, b in pairs + pairs[:1]:
        a @ b
    synchronize(device)
    seconds = []
    for i in range(repeats):
        a, b = pairs[i % 2]
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            a @ b
            end.record()
            end.synchronize()
            seconds.append(start.elapsed_time(end) / 1000)
        else:
            clock = time.perf_counter()
            a @ b
            seconds.append(time.perf_counter() - clock)
    median = statistics.median(seconds)
    return {"n": n, "dtype": str(dtype).removeprefix("torch."), "repeats": repeats, "seconds": median, "tflops": matmul_flops(n) / median / 1e12}


def fixture_candidates(reader: Any, questions: list[Any]) -> tuple[dict[str, list[Candidate]], float]:
    """Each question read against its own paragraph: its FIXTURE_TOP_K candidates, and the seconds."""
    from store.haystack_compat import Document

    clock = time.perf_counter()
    answers = reader.read_batch([q.question for q in questions], [[Document(content=q.context)] for q in questions], top_k=FIXTURE_TOP_K)
    seconds = time.perf_counter() - clock
    out = {q.id: [Candidate(a.text, a.score, math.log(a.probability) if a.probability > 0 else -math.inf) for a in found]
           for q, found in zip(questions, answers)}  # fmt: skip
    return out, seconds


def f1_of(candidates: dict[str, list[Candidate]], questions: list[Any]) -> dict[str, float]:
    from pipeline.evaluate import squad_scores

    scores = squad_scores({q.id: (candidates[q.id][0].text if candidates[q.id] else "") for q in questions}, questions)
    return {"exact_match": scores["exact_match"], "f1": scores["f1"]}


def fixture_check(folder: Path, reference: dict[str, Any], questions: list[Any], device: torch.device, kept: set[int]) -> dict[str, Any]:
    """(1) The fixture at fp16 and bf16 on `device` (and fp32 on this CPU) against fp32 on the
    CPU of the machine that prepared the carry (its original fp32 weights)."""
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    asked = [q for q in questions if q.id in reference["answers"]]
    from transformers import AutoTokenizer

    tokens = AutoTokenizer.from_pretrained(str(folder))
    fed = {i for ids in tokens([q.question for q in asked], [q.context for q in asked])["input_ids"] for i in ids}
    if not fed <= kept:
        raise ValueError(f"{len(fed - kept)} token ids fed to the fixture have zeroed embeddings: prepare the carry from this question set")
    ref = {qid: [Candidate(*c) for c in cands] for qid, cands in reference["answers"].items() if qid in {q.id for q in asked}}
    ref_f1 = f1_of(ref, asked)
    modes = [("cpu", "fp32")] + ([(device.type, "fp16"), (device.type, "bf16")] if device.type == "cuda" else [("cpu", "bf16")])
    readings, out = {}, {"questions": len(asked), "reference": {"where": reference.get("environment", {}), **ref_f1}, "checks": {}, "speed": {}}
    for where, precision in modes:
        reader = Reader(ReaderConfig(model=str(folder), device=where, precision=precision, **PARAMS))
        reader.warm_up()
        fixture_candidates(reader, asked[:8])  # warm-up: kernels, allocator
        readings[(where, precision)], seconds = fixture_candidates(reader, asked)
        name = f"{precision} {where}"
        out["speed"][name] = {"seconds": seconds, "questions_per_s": len(asked) / seconds}
        scores = f1_of(readings[(where, precision)], asked)
        agreed = agreement(ref, readings[(where, precision)])
        out["checks"][name] = {**agreed, **verdict(agreed, scores["f1"], ref_f1["f1"]), "exact_match": scores["exact_match"]}
        del reader
    if device.type == "cuda":
        local = readings[("cpu", "fp32")]
        for precision in ("fp16", "bf16"):
            agreed = agreement(local, readings[("cuda", precision)])
            out["checks"][f"{precision} cuda vs fp32 cpu (same fp16-rounded weights)"] = {
                **agreed, **verdict(agreed, f1_of(readings[("cuda", precision)], asked)["f1"], f1_of(local, asked)["f1"])}  # fmt: skip
    return out


def retrieved(db: Path, questions: list[str], depth: int) -> tuple[Any, list[list[Any]]]:
    """A QA over the database, and the `depth` passages retrieved for each question (FTS5), best first."""
    from pipeline.config import Config, RetrieverConfig, StoreConfig
    from pipeline.qa import QA

    qa = QA(Config(store=StoreConfig(path=str(db)), retriever=RetrieverConfig(top_k=depth)))
    options = qa.options(retrieve_k=depth)
    return qa, [qa.retrieve(q, options)[:depth] for q in questions]


def windows_of(tokenizer: Any, questions: list[str], passages: list[list[Any]]) -> list[Any]:
    """The reader's windows of every (question, passage) pair, as read_batch cuts them."""
    from pipeline.reader.features import make_windows, truncate_questions

    asked = truncate_questions(tokenizer, questions, 64)
    pairs = [(asked[q], doc.content) for q, docs in enumerate(passages) for doc in docs if doc.content]
    return make_windows(tokenizer, [q for q, _ in pairs], [p for _, p in pairs], PARAMS["max_seq_len"], PARAMS["doc_stride"])


def model_only(model_dir: Path, windows: list[Any], device: torch.device, peak_tflops: float, variants: list[dict[str, Any]],
               repeats: int = 2) -> list[dict[str, Any]]:  # fmt: skip
    """(2a) Forward passes alone over the windows, inputs already on the device: the chip's reading
    rate without tokenization or span mapping, as a share of the measured matrix rate."""
    from transformers import AutoModelForQuestionAnswering

    from pipeline.reader.features import pack
    from pipeline.reader.reader import _batch_tensors

    shape = model_shape(json.loads((model_dir / "config.json").read_text()))
    lengths = [len(w.input_ids) for w in windows]
    tokens = sum(lengths)
    results = []
    models: dict[str, Any] = {}
    for variant in variants:
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[variant["precision"]]
        if variant["precision"] not in models:
            models.clear()
            synchronize(device)
            models[variant["precision"]] = AutoModelForQuestionAnswering.from_pretrained(str(model_dir)).eval().to(dtype=dtype).to(device)
        model = models[variant["precision"]]
        model.set_attn_implementation(variant["attention"])
        batches = pack(lengths, variant["batch_tokens"], variant["max_batch_size"])
        inputs = []
        for batch in batches:
            ids, attention, _, _ = _batch_tensors([windows[i] for i in batch], 0)
            inputs.append((ids.to(device), attention.to(device)))
        useful, executed = reading_flops(shape, [[lengths[i] for i in batch] for batch in batches])
        with torch.inference_mode():
            for ids, attention in inputs[:3]:
                model(input_ids=ids, attention_mask=attention)
            synchronize(device)
            seconds = []
            for _ in range(repeats):
                clock = time.perf_counter()
                for ids, attention in inputs:
                    model(input_ids=ids, attention_mask=attention)
                synchronize(device)
                seconds.append(time.perf_counter() - clock)
        t = statistics.median(seconds)
        results.append({**variant, "batches": len(batches), "windows": len(windows), "tokens": tokens, "seconds": t,
                        "tokens_per_s": tokens / t, "useful_tflops": useful / t / 1e12, "executed_tflops": executed / t / 1e12,
                        "padding": 1 - useful / executed if executed else 0.0, "share": useful / t / 1e12 / peak_tflops})  # fmt: skip
        print(f"model only {variant['name']}: {tokens / t:,.0f} tokens/s, {useful / t / 1e12:.1f} TFLOP/s", file=sys.stderr)
    return results


def read_batch_runs(model_dir: Path, questions: list[str], passages: list[list[Any]], device: torch.device, peak_tflops: float,
                    top_k: int, variants: list[dict[str, Any]], shape: Shape, lengths: list[int]) -> list[dict[str, Any]]:  # fmt: skip
    """(2b) Reader.read_batch end to end over the questions' retrieved passages, per variant:
    passages/s and the share of the matrix rate, where its time goes, and whether the answers
    equal the first variant's (the switches must not move them)."""
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    n_passages = sum(len(p) for p in passages)
    useful = sum(sequence_flops(shape, n) for n in lengths)
    results, first = [], None
    for variant in variants:
        config = ReaderConfig(model=str(model_dir), device=device.type, precision=variant["precision"], batch_tokens=variant["batch_tokens"],
                              max_batch_size=variant["max_batch_size"], **PARAMS)  # fmt: skip
        reader = Reader(config, pinned_transfers=variant["pinned"], overlap=variant["overlap"])
        reader.warm_up()
        reader.read_batch(questions[:4], passages[:4], top_k=top_k)  # warm-up
        reader.timings.clear()
        synchronize(device)
        clock = time.perf_counter()
        answers = reader.read_batch(questions, passages, top_k=top_k)
        seconds = time.perf_counter() - clock
        tops = [[(a.text, a.start, a.end) for a in found[:1]] for found in answers]
        first = tops if first is None else first
        results.append({**variant, "questions": len(questions), "passages": n_passages, "seconds": seconds,
                        "questions_per_s": len(questions) / seconds, "passages_per_s": n_passages / seconds,
                        "tokens_per_s": sum(lengths) / seconds, "share": useful / seconds / 1e12 / peak_tflops,
                        "timings": dict(reader.timings), "same_top_answers_as_first": tops == first})  # fmt: skip
        print(f"read_batch {variant['name']}: {n_passages / seconds:,.0f} passages/s; {dict(reader.timings)}", file=sys.stderr)
        del reader
    return results


def ask_batch(db: Path, model_dir: Path, questions: list[str], device: torch.device, depth: int, work: Path) -> dict[str, Any]:
    """(3) The real `docqa ask --batch` in a fresh process (bench/gpu_timed.py adds the stage timers)."""
    (work / "questions.txt").write_text("\n".join(questions) + "\n", encoding="utf-8")
    config = work / "ask.yaml"
    config.write_text(f"store:\n  path: {db}\nreader:\n  model: {model_dir}\n  device: {device.type}\nretriever:\n  top_k: {depth}\n", encoding="utf-8")
    timings = work / "ask-timings.json"
    command = [sys.executable, "-m", "bench.gpu_timed", str(timings), "ask", "--batch", str(work / "questions.txt"),
               "--out", str(work / "answers.jsonl"), "--retrieve-k", str(depth), "--config", str(config)]  # fmt: skip
    clock = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - clock
    answered = sum(1 for _ in (work / "answers.jsonl").open(encoding="utf-8"))
    if answered != len(questions):
        raise RuntimeError(f"docqa ask --batch wrote {answered} answers for {len(questions)} questions: see {work / 'answers.jsonl'}")
    stages = json.loads(timings.read_text())
    total = stages.pop("total")
    stages["other"] = max(0.0, total - sum(stages.values()))
    return {"questions": len(questions), "retrieve_k": depth, "wall_seconds": wall, "process_seconds": total,
            "questions_per_s": len(questions) / wall, "stages": stages,
            "shares": {k: v / total for k, v in sorted(stages.items(), key=lambda kv: -kv[1])}}  # fmt: skip


def api_runs(db: Path, model_dir: Path, questions: list[str], device: torch.device, clients: int, seconds: float, depth: int,
             work: Path) -> list[dict[str, Any]]:  # fmt: skip
    """(4) /ask under `clients` concurrent clients for `seconds`, micro-batching on, then off (bench/api.py's load)."""
    import httpx

    from bench.api import load
    from bench.api_fuzz import free_port, serve

    runs = []
    for batching in (True, False):
        config = work / f"serve-{batching}.yaml"
        config.write_text(f"store:\n  path: {db}\nretriever:\n  top_k: {depth}\nreader:\n  model: {model_dir}\n  device: {device.type}\n"
                          f"api:\n  micro_batching: {'true' if batching else 'false'}\n  data_folder: {work / 'uploads'}\n", encoding="utf-8")  # fmt: skip
        port = free_port()
        # Loading the model takes minutes on a loaded CPU.
        process = serve(config, port, work / f"serve-{'on' if batching else 'off'}.log", ready_within_s=600)
        try:
            url = f"http://127.0.0.1:{port}"
            httpx.post(url + "/ask", json={"question": questions[0], "top_k": 1}, timeout=120)  # warm-up
            result = asyncio.run(load(url, questions, clients, seconds))
        finally:
            process.terminate()
            process.wait(30)
        runs.append({"micro_batching": "on" if batching else "off", "clients": clients, "retrieve_k": depth, **result})
        print(f"/ask micro-batching {'on' if batching else 'off'}: {result}", file=sys.stderr)
    return runs
