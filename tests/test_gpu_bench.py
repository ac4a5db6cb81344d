"""bench/gpu.py's own logic, on the CPU: FLOP counting, the answer-agreement rule, the carry
folder and its size, the table, the reader's GPU-path switches, and a whole `run --device cpu
--quick` on tiny models built here (no GPU, no ../shared, no network)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gpu_carry
from bench.gpu_checks import (
    Candidate,
    Shape,
    agreement,
    markdown_table,
    matmul_flops,
    model_shape,
    reading_flops,
    sequence_flops,
    summary_rows,
    token_flops,
    verdict,
)

REPO = Path(__file__).resolve().parents[1]
DISTILBERT = {"dim": 768, "hidden_dim": 3072, "n_layers": 6, "n_heads": 12, "vocab_size": 28996}


def test_distilbert_flops_per_token_and_attention():
    shape = model_shape(DISTILBERT)
    assert shape == Shape(layers=6, hidden=768, intermediate=3072, heads=12)
    # 6 x (4 x 768^2 + 2 x 768 x 3072) multiply-adds, plus the span head's 768 x 2: 84.9 MFLOP.
    assert token_flops(shape) == 2 * (6 * (4 * 768**2 + 2 * 768 * 3072) + 2 * 768) == 84_937_728
    # Attention: Q K^T and A V, 2 x L^2 x d multiply-adds per layer.
    assert sequence_flops(shape, 384) == 384 * 84_937_728 + 6 * 4 * 384**2 * 768
    assert matmul_flops(8192) == 2 * 8192**3


def test_bert_config_keys_and_a_config_without_either():
    bert = {"hidden_size": 384, "intermediate_size": 1536, "num_hidden_layers": 6, "num_attention_heads": 12}
    assert model_shape(bert) == Shape(6, 384, 1536, 12)
    with pytest.raises(ValueError, match=r"neither DistilBERT's \(dim, hidden_dim, n_layers\) nor BERT's keys: missing 'intermediate_size'"):
        model_shape({"hidden_size": 384, "num_hidden_layers": 6})


def test_reading_flops_count_padding_as_executed_only():
    shape = Shape(layers=1, hidden=2, intermediate=4, heads=1)
    # per token: 2 x (1 x (4 x 4 + 2 x 2 x 4) + 2 x 2) = 2 x (32 + 4) = 72; attention 1 x 4 x L^2 x 2 = 8 L^2
    assert token_flops(shape) == 72
    assert sequence_flops(shape, 3) == 3 * 72 + 8 * 9
    useful, executed = reading_flops(shape, [[3, 1], [2], []])
    assert useful == (3 * 72 + 72) + (1 * 72 + 8) + (2 * 72 + 32)
    assert executed == 2 * (3 * 72 + 72) + (2 * 72 + 32)


def c(text: str, log_p: float, score: float = 0.0) -> Candidate:
    return Candidate(text, score, log_p)


def test_agreement_same_near_tie_and_real_disagreements():
    reference = {
        "same": [c("Paris", -0.1, 10.0), c("France", -2.5, 8.0)],
        "tie": [c("Seine", -0.6, 7.0), c("river Seine", -0.9, 6.9)],  # other picks the one 0.3 nats below
        "far": [c("1872", -0.2, 9.0), c("Glasgow", -1.7, 7.0)],  # 1.5 nats below: a real disagreement
        "absent": [c("Kestrel", -0.05, 12.0)],  # other's top is not among the reference's candidates
    }
    other = {
        "same": [c(" Paris ", -0.1, 10.25), c("France", -2.4, 8.1)],
        "tie": [c("river Seine", -0.5, 7.0), c("Seine", -0.9, 7.5)],
        "far": [c("Glasgow", -0.3, 8.0), c("1872", -1.0, 9.5)],
        "absent": [c("wagons", -0.1, 3.0)],
    }
    result = agreement(reference, other, tie=0.5)
    assert (result["questions"], result["same_top"], result["near_ties"], result["disagreements"]) == (4, 1, 1, 2)
    assert [d["id"] for d in result["near_tie_list"]] == ["tie"]
    assert result["near_tie_list"][0]["reference_margin"] == pytest.approx(0.3)
    assert [(d["id"], d["reference_margin"]) for d in result["disagreement_list"]] == [("absent", math.inf), ("far", pytest.approx(1.5))]
    # Drift of the reference's top answer's raw score where other has it: 0.25, 0.5, 0.5.
    assert result["max_score_drift"] == pytest.approx(0.5)
    assert result["median_score_drift"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"the two readings answer different questions, e.g. \['far'\]"):
        agreement({"far": reference["far"]}, {})


def test_verdict_needs_no_real_disagreement_and_f1_within_the_limit():
    clean = {"disagreements": 0}
    assert verdict(clean, 51.5, 51.7)["passed"] is True
    assert verdict(clean, 51.39, 51.7)["passed"] is False  # 0.31 below
    assert verdict({"disagreements": 1}, 51.7, 51.7)["passed"] is False
    assert verdict(clean, 52.0, 51.7)["f1_delta"] == pytest.approx(0.3)


def test_table_and_summary_rows():
    assert markdown_table(("a", "b"), [(1234, 0.12345), (True, "x"), (False, 123.4)]) == (
        "| a | b |\n|---|---|\n| 1,234 | 0.123 |\n| yes | x |\n| NO | 123 |"
    )
    results = {
        "environment": {"device_name": "NVIDIA H200"},
        "matmul": {"dtype": "bfloat16", "n": 8192, "tflops": 780.0},
        "fixture": {"checks": {"fp16 cuda": {"same_top": 498, "near_ties": 2, "disagreements": 0, "f1": 51.5, "reference_f1": 51.6, "f1_delta": -0.1, "passed": True}}},
        "model_only": [{"name": "fp16 sdpa 65536", "tokens_per_s": 4_000_000.0, "share": 0.45}],
        "ask_batch": {"questions": 1000, "retrieve_k": 20, "questions_per_s": 50.0, "shares": {"reader model": 0.5, "retrieval": 0.25}},
        "api": [{"clients": 64, "micro_batching": "on", "qps": 120.0, "p50": 0.4}],
        "read_batch": None,  # failed
        "errors": {"read": "RuntimeError: out of memory"},
        "skipped": ["api"],
    }
    assert summary_rows(results) == [
        ("environment", "device", "NVIDIA H200"),
        ("matmul", "dense bfloat16 TFLOP/s (8192^3, median)", 780.0),
        ("fixture", "fp16 cuda: same top / near-ties / disagreements", "498 / 2 / 0"),
        ("fixture", "fp16 cuda: F1 vs fp32 CPU (delta)", "51.50 vs 51.60 (-0.10)"),
        ("fixture", "fp16 cuda: passed", True),
        ("model only", "fp16 sdpa 65536: tokens/s, share of matmul", "4,000,000, 45%"),
        ("ask --batch", "1000 q x 20 passages: questions/s", 50.0),
        ("ask --batch", "where the time goes", "reader model 50%, retrieval 25%"),
        ("/ask", "64 clients, micro-batching on: q/s, p50 s", "120.0, 0.40"),
        ("read", "FAILED", "RuntimeError: out of memory"),
        ("api", "skipped", "past the time budget"),
    ]


def test_wheels_one_per_project_and_none_the_image_has(tmp_path):
    assert gpu_carry.wheel_name("pydantic_core-2.50.5-cp312-cp312-manylinux2014_x86_64.whl") == "pydantic-core"
    gpu_carry.check_wheels([Path("fastapi-0.165.0-py3-none-any.whl"), Path("SQLAlchemy-2.1.9-cp312-cp312-manylinux_2_17_x86_64.whl")])
    with pytest.raises(ValueError, match="two wheels of fastapi: fastapi-0.1-py3-none-any.whl and fastapi-0.2-py3-none-any.whl"):
        gpu_carry.check_wheels([Path("fastapi-0.1-py3-none-any.whl"), Path("fastapi-0.2-py3-none-any.whl")])
    with pytest.raises(ValueError, match="torch-2.13.0-cp312-cp312-linux_x86_64.whl is a package the device's image has"):
        gpu_carry.check_wheels([Path("torch-2.13.0-cp312-cp312-linux_x86_64.whl")])
    assert not {gpu_carry.canonical(n) for n in gpu_carry.CARRIED} & {gpu_carry.canonical(n) for n in gpu_carry.DEVICE_HAS}


def test_size_report_counts_the_tree_and_each_carried_part(tmp_path):
    repo = tmp_path / "repo"
    (repo / "carry" / "wheels").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("/carry/\n")
    (repo / "tracked.py").write_bytes(b"x" * 1000)
    subprocess.run(["git", "-C", str(repo), "add", "tracked.py", ".gitignore"], check=True)
    (repo / "untracked.txt").write_bytes(b"y" * 500)  # travels: untracked, not ignored
    (repo / "carry" / "wheels" / "a.whl").write_bytes(b"w" * 3000)
    (repo / "carry" / "reference.json").write_bytes(b"r" * 200)
    report = gpu_carry.size_report(repo, ["carry"])
    assert report["working_tree"] == 1000 + 500 + len("/carry/\n")
    assert report["carried"] == {"carry/reference.json": 200, "carry/wheels": 3000}
    assert report["total"] == 1508 + 3200 and report["fits"] is True
    assert gpu_carry.format_size_report({**report, "total": 70 * 2**20, "fits": False}).endswith("total 70.0 MiB of 64 MiB: DOES NOT FIT")


def test_manifest_names_a_changed_or_missing_file(tmp_path):
    (tmp_path / "a").write_text("one")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_text("two")
    (tmp_path / "manifest.json").write_text(json.dumps(gpu_carry.manifest(tmp_path)))
    gpu_carry.check_manifest(tmp_path)
    (tmp_path / "sub" / "b").write_text("changed")
    with pytest.raises(ValueError, match=r"sub/b differs from what prepare wrote: run `python bench/gpu.py prepare` again"):
        gpu_carry.check_manifest(tmp_path)
    (tmp_path / "a").unlink()
    with pytest.raises(FileNotFoundError, match=r"/a is missing: run `python bench/gpu.py prepare` again and carry gpu-carry"):
        gpu_carry.check_manifest(tmp_path)


def test_packed_fixture_is_fp16_with_unused_rows_zeroed_and_unpacks_to_fp32(tmp_path, tiny_bert_model):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_model))
    kept = gpu_carry.used_token_ids(tokenizer, ["Where is Paris"])
    assert {tokenizer.convert_tokens_to_ids(t) for t in ("[PAD]", "[CLS]", "[SEP]", "Paris")} <= kept
    info = gpu_carry.pack_fixture(tiny_bert_model, tmp_path / "packed", kept)
    assert info["embedding"] == "bert.embeddings.word_embeddings.weight" and info["kept_rows"] == len(kept)
    folder = gpu_carry.unpack_fixture(tmp_path / "packed", tmp_path / "unpacked")
    original, unpacked = load_file(str(tiny_bert_model / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    assert set(original) == set(unpacked) and all(t.dtype == torch.float32 for t in unpacked.values())
    for name, tensor in original.items():
        expected = tensor.to(torch.float16).to(torch.float32)
        if name == info["embedding"]:
            rows = sorted(kept)
            assert torch.equal(unpacked[name][rows], expected[rows])
            others = [i for i in range(tensor.shape[0]) if i not in kept]
            assert torch.count_nonzero(unpacked[name][others]) == 0
        else:
            assert torch.equal(unpacked[name], expected), name
    model = AutoModelForQuestionAnswering.from_pretrained(str(folder))
    assert next(model.parameters()).dtype == torch.float32


def test_standin_writer_matches_distilbert_base(tmp_path, tiny_model):
    from transformers import AutoConfig

    folder = gpu_carry.write_standin(tmp_path / "standin", tiny_model / "vocab.txt", tiny=True)
    config = AutoConfig.from_pretrained(str(folder))
    assert (config.model_type, config.dim, config.n_layers, config.vocab_size) == ("distilbert", 64, 2, len((tiny_model / "vocab.txt").read_text().split()))
    full = json.loads(json.dumps(__import__("transformers").DistilBertConfig().to_dict()))
    assert model_shape(full) == Shape(6, 768, 3072, 12)  # what write_standin(tiny=False) writes


def test_gpu_path_switches_leave_answers_unchanged_on_the_cpu(tiny_model):
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader
    from pipeline.reader.transfer import to_device, to_host
    from tests.test_reader import random_passages

    import torch

    passages = random_passages(30, seed=5, words=(40, 90))
    config = ReaderConfig(model=str(tiny_model), device="cpu", max_seq_len=64, doc_stride=16, max_question_len=8, batch_tokens=128)
    results = []
    for pinned, overlap in ((False, False), (True, False), (False, True), (True, True)):
        reader = Reader(config, pinned_transfers=pinned, overlap=overlap)
        results.append([(a.text, a.start, a.end, a.score, a.probability) for a in reader.read("Where is the river?", passages, top_k=20)])
        assert set(reader.timings) == {"tokenize", "model", "spans", "answers"} and all(v >= 0 for v in reader.timings.values())
    assert len(results[0]) == 20 and all(r == results[0] for r in results)
    # Off CUDA the switches are no-ops: no pinned memory, no events.
    t = torch.arange(6).reshape(2, 3)
    assert to_device([t], torch.device("cpu"), pinned=True)[0] is t
    copy = to_host([t], asynchronous=True)
    assert copy.event is None and copy.lists() == [[[0, 1, 2], [3, 4, 5]]]


def squad_file(path: Path) -> Path:
    """A SQuAD v1.1 file of two articles over the tests' corpus, with answers in their paragraphs."""
    from tests.models import CORPUS

    articles = []
    for a, (context, questions) in enumerate(
        [(CORPUS[1], [("Where does the river Seine flow?", "through Paris"), ("What is the capital of France?", "Paris")]),
         (CORPUS[3], [("Where was Kestrel delivered from?", "Glasgow"), ("When was Kestrel delivered?", "1872")])]
    ):  # fmt: skip
        qas = [{"id": f"q{a}{i}", "question": q, "answers": [{"text": t, "answer_start": context.index(t)}]} for i, (q, t) in enumerate(questions)]
        articles.append({"title": f"article {a}", "paragraphs": [{"context": context, "qas": qas}]})
    path.write_text(json.dumps({"version": "1.1", "data": articles}))
    return path


def test_prepare_then_run_quick_on_the_cpu(tmp_path, tiny_bert_model, tiny_model, monkeypatch, capsys):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    carry, out = tmp_path / "carry", tmp_path / "out"
    squad = squad_file(tmp_path / "squad.json")
    from bench import gpu

    monkeypatch.setattr(sys, "argv", ["gpu.py", "prepare", "--no-wheels", "--carry", str(carry), "--fixture", str(tiny_bert_model),
                                      "--squad", str(squad), "--vocab", str(tiny_model / "vocab.txt"), "--questions", "3", "--first-article", "0"])  # fmt: skip
    with pytest.raises(SystemExit) as exited:
        gpu.main()
    assert exited.value.code == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("total ") and last.endswith("MiB of 64 MiB: fits")
    assert sorted(p.name for p in carry.iterdir()) == ["fixture", "manifest.json", "reference.json", "squad.json.xz", "vocab-bert-base-cased.txt"]
    reference = json.loads((carry / "reference.json").read_text())
    assert sorted(reference["answers"]) == ["q00", "q01", "q10"]

    ran = subprocess.run(
        [sys.executable, "bench/gpu.py", "run", "--device", "cpu", "--quick", "--tiny-standin", "--carry", str(carry), "--out", str(out),
         "--questions", "3", "--read-questions", "2", "--api-seconds", "1", "--clients", "2", "--matmul-n", "64"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    results = json.loads((out / "gpu.json").read_text())
    assert results["errors"] == {} and results["skipped"] == []
    assert set(results["part_seconds"]) == {"matmul", "fixture", "setup", "model", "read", "ask", "api"}
    for name, check in results["fixture"]["checks"].items():
        assert check["same_top"] + check["near_ties"] + check["disagreements"] == 3, name
    assert set(results["fixture"]["checks"]) == {"fp32 cpu", "bf16 cpu"}
    assert [v["name"] for v in results["model_only"]] == ["fp32 sdpa 1024", "fp32 eager 1024"]
    assert all(v["tokens"] == results["standin"]["tokens"] and 0 < v["share"] for v in results["model_only"])
    assert [r["same_top_answers_as_first"] for r in results["read_batch"]] == [True, True]
    assert results["ask_batch"]["questions"] == 3 and sum(results["ask_batch"]["shares"].values()) == pytest.approx(1.0)
    assert {"retrieval", "reader tokenize", "reader model", "reader spans", "ranking", "load"} <= set(results["ask_batch"]["stages"])
    assert [r["micro_batching"] for r in results["api"]] == ["on", "off"] and all(r["errors"] == 0 and r["answered"] > 0 for r in results["api"])
    # The short table comes last, and is also written beside the JSON.
    table = (out / "gpu-table.md").read_text().strip()
    assert ran.stdout.rstrip().endswith(table) and table.startswith("| part | figure | value |")
