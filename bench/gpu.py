"""docqa on a GPU, in one command: answers equal to the CPU's, reading near the chip's rate, the
whole batch job and the HTTP API (issue 24).

Prepared here, run on a lent device machine (one H200; /work/.library/device/README.md),
where the working tree travels but ../shared does not:

    python bench/gpu.py prepare     # here: fill the git-ignored gpu-carry/ (wheels, fixture, reference, data); prints its size
    python bench/gpu.py size        # here: what would travel, against the 64 MiB limit
    python bench/gpu.py run [--quick] [--device cuda|cpu] [--parts fixture,model,read,ask,api]   # there

`run` installs the carried wheels, then measures, each part on its own (a failing part is
recorded and the rest go on):
  matmul   the chip's dense bf16 rate: one 8192^3 product, median of 10 (the ceiling below);
  fixture  (1) the trained fixture at fp16 and bf16 on the GPU against fp32 on the CPU over 500
           public-half questions (articles 12-23): top answers equal except near-ties, F1 within 0.3;
  model    (2) the full-size stand-in's forward passes alone over 1,000 questions x 20 retrieved
           passages: tokens/s and the share of the matrix rate, fp16/bf16, SDPA/eager attention,
           16,384- and 65,536-token batches;
  ask      (3) `docqa ask --batch`, 1,000 questions x 20 passages, with stage timers;
  api      (4) /ask under 64 clients, micro-batching on and off;
  read     (2) Reader.read_batch end to end over 200 of them: passages/s, where its time goes, with
           the GPU-path switches (pinned transfers, overlap) off and on (last: the least needed).
It prints one short table last and writes every figure to $OUT/gpu.json (bench/out/gpu/ without $OUT).
--quick: 200 questions, fewer variants, 5 s of load per API run: about a third of the time.
The parts' sizes come from the CPU-side costs measured here (about 0.25 s of tokenization,
span mapping, retrieval and ranking per question of 20 passages on this loaded 2-core
machine): about 6 minutes in all on an H200 by estimate, not yet by measurement.
A time budget (--budget-s, default 450) skips parts not started by then, so the command
ends inside a 10-minute device call.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from bench import gpu_carry  # noqa: E402  (stdlib only at import)
from bench.gpu_checks import markdown_table, summary_rows  # noqa: E402

PARTS = ("fixture", "model", "ask", "api", "read")  # in the order they run


def prepare(args: argparse.Namespace) -> int:
    """Fill the carry folder here (network for the wheels only), then print what would travel."""
    carry = Path(args.carry)
    carry.mkdir(parents=True, exist_ok=True)
    if not args.no_wheels:
        wheels = gpu_carry.download_wheels(carry / "wheels")
        gpu_carry.check_wheels(wheels)
        print(f"wheels: {len(wheels)} in {carry / 'wheels'}", file=sys.stderr)

    from transformers import AutoTokenizer

    squad = json.loads(Path(args.squad).read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(args.fixture)
    kept = gpu_carry.used_token_ids(tokenizer, gpu_carry.squad_texts(squad))
    packed = gpu_carry.pack_fixture(Path(args.fixture), carry / "fixture", kept)
    print(f"fixture: fp16, {packed['kept_rows']} of {packed['rows']} embedding rows kept", file=sys.stderr)
    (carry / "reference.json").write_text(json.dumps(reference(args, squad), ensure_ascii=False))
    (carry / "squad.json.xz").write_bytes(lzma.compress(Path(args.squad).read_bytes()))
    shutil.copyfile(args.vocab, carry / "vocab-bert-base-cased.txt")
    (carry / "manifest.json").write_text(json.dumps(gpu_carry.manifest(carry), indent=1))
    report = gpu_carry.size_report(REPO, [os.path.relpath(carry, REPO)] if carry.is_relative_to(REPO) else [])
    if not carry.is_relative_to(REPO):
        report["carried"][str(carry)] = gpu_carry.folder_bytes(carry)
        report["total"] = report["working_tree"] + sum(report["carried"].values())
        report["fits"] = report["total"] <= report["limit"]
    print(gpu_carry.format_size_report(report))
    return 0 if report["fits"] else 1


def check_questions(squad: dict[str, Any], first_article: int, limit: int) -> list[str]:
    """Ids of the check's questions: the first `limit` of articles from `first_article` on (the report half)."""
    ids = [qa["id"] for article in squad["data"][first_article:] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    return ids[:limit]


def reference(args: argparse.Namespace, squad: dict[str, Any]) -> dict[str, Any]:
    """fp32 on this CPU with the fixture's original weights: each check question's candidates."""
    import torch

    from bench.gpu_parts import fixture_candidates, f1_of, environment, PARAMS
    from pipeline.config import ReaderConfig
    from pipeline.evaluate import load_squad
    from pipeline.reader import Reader

    ids = set(check_questions(squad, args.first_article, args.questions))
    questions = [q for q in load_squad(args.squad)[0] if q.id in ids]
    reader = Reader(ReaderConfig(model=str(args.fixture), device="cpu", precision="fp32", **PARAMS))
    candidates, seconds = fixture_candidates(reader, questions)
    scores = f1_of(candidates, questions)
    print(f"reference: {len(questions)} questions, fp32 CPU, F1 {scores['f1']:.2f}, {seconds:.0f} s", file=sys.stderr)
    return {"environment": environment(torch.device("cpu")), "params": PARAMS, "first_article": args.first_article, **scores,
            "answers": {qid: [[c.text, c.score, c.log_probability] for c in found] for qid, found in candidates.items()}}  # fmt: skip


def variants(device: str, quick: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(model-only variants, read_batch variants) for the device; the reader's default first."""
    def model(precision: str, attention: str, tokens: int, batch: int) -> dict[str, Any]:
        return {"name": f"{precision} {attention} {tokens}", "precision": precision, "attention": attention, "batch_tokens": tokens, "max_batch_size": batch}

    def read(precision: str, tokens: int, batch: int, pinned: bool = False, overlap: bool = False) -> dict[str, Any]:
        switches = "+".join(name for name, on in (("pinned", pinned), ("overlap", overlap)) if on) or "defaults"
        return {"name": f"{precision} {tokens}x{batch} {switches}", "precision": precision, "batch_tokens": tokens, "max_batch_size": batch,
                "pinned": pinned, "overlap": overlap}  # fmt: skip

    if device != "cuda":
        return [model("fp32", "sdpa", 1024, 64), model("fp32", "eager", 1024, 64)], [read("fp32", 1024, 64), read("fp32", 1024, 64, True, True)]
    if quick:
        return ([model("fp16", "sdpa", 16384, 64), model("fp16", "sdpa", 65536, 1024), model("fp16", "eager", 65536, 1024),
                 model("bf16", "sdpa", 65536, 1024)],
                [read("fp16", 16384, 64), read("fp16", 16384, 64, True, True), read("fp16", 65536, 1024, True, True)])  # fmt: skip
    return ([model(p, a, t, b) for p in ("fp16", "bf16") for a in ("sdpa", "eager") for t, b in ((16384, 64), (65536, 1024))],
            [read("fp16", 16384, 64), read("fp16", 16384, 64, True), read("fp16", 16384, 64, False, True), read("fp16", 16384, 64, True, True),
             read("fp16", 65536, 1024, True, True)])  # fmt: skip


class Run:
    """The parts of `run`, each recorded on its own in `results` (written after every part)."""

    def __init__(self, args: argparse.Namespace, started: float) -> None:
        self.args, self.started = args, started
        self.out = Path(args.out or os.environ.get("OUT") or REPO / "bench" / "out" / "gpu")
        self.out.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {"command": sys.argv, "quick": args.quick, "errors": {}, "skipped": [], "part_seconds": {}}

    def part(self, name: str, function: Any) -> Any:
        if time.perf_counter() - self.started > self.args.budget_s:
            self.results["skipped"].append(name)
            print(f"{name}: skipped, past the time budget of {self.args.budget_s:g} s", file=sys.stderr)
            return None
        clock = time.perf_counter()
        try:
            return function()
        except Exception as exc:  # a failing part is recorded; the others still run
            self.results["errors"][name] = f"{type(exc).__name__}: {exc}"[:500]
            traceback.print_exc()
            return None
        finally:
            self.results["part_seconds"][name] = time.perf_counter() - clock
            self.write()

    def write(self) -> None:
        self.results["seconds"] = time.perf_counter() - self.started
        (self.out / "gpu.json").write_text(json.dumps(self.results, indent=1, default=str, ensure_ascii=False))


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # local folders only: never wait on an unreachable hub
    carry = Path(args.carry)
    gpu_carry.check_manifest(carry)
    gpu_carry.install_wheels(carry / "wheels")
    import torch

    from bench import gpu_parts as parts
    from bench.gpu_checks import model_shape
    from pipeline.evaluate import index_paragraphs, load_squad
    from ingest.options import IngestOptions

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    wanted = set(args.parts.split(",")) if args.parts else set(PARTS)
    if unknown := wanted - set(PARTS):
        raise SystemExit(f"--parts: unknown {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    n_questions = args.questions or (200 if args.quick else 1000)
    n_read = args.read_questions or (50 if args.quick else 200)
    api_seconds = args.api_seconds if args.api_seconds is not None else (5.0 if args.quick else 20.0)
    work = Path(tempfile.mkdtemp(prefix="docqa-gpu-"))
    state = Run(args, started)
    results = state.results
    results["environment"] = parts.environment(device)
    (work / "squad.json").write_bytes(lzma.decompress((carry / "squad.json.xz").read_bytes()))
    questions, paragraphs = load_squad(work / "squad.json")

    n = args.matmul_n or (8192 if device.type == "cuda" else 512)
    results["matmul"] = state.part("matmul", lambda: parts.matmul_rate(device, n))
    peak = results["matmul"]["tflops"] if results["matmul"] else float("nan")

    if "fixture" in wanted:
        def fixture() -> dict[str, Any]:
            folder = gpu_carry.unpack_fixture(carry / "fixture", work / "fixture")
            kept = set(json.loads((carry / "fixture" / "kept_ids.json").read_text()))
            return parts.fixture_check(folder, json.loads((carry / "reference.json").read_text()), questions, device, kept)

        results["fixture"] = state.part("fixture", fixture)

    if wanted & {"model", "read", "ask", "api"}:
        def setup() -> dict[str, Any]:
            model_dir = gpu_carry.write_standin(work / "standin", carry / "vocab-bert-base-cased.txt", tiny=args.tiny_standin)
            db = work / "squad.db"
            index_paragraphs(paragraphs, db, IngestOptions()).close()
            asked = [q.question for q in questions[:n_questions]]
            qa, passages = parts.retrieved(db, asked, args.depth)
            from transformers import AutoTokenizer

            windows = parts.windows_of(AutoTokenizer.from_pretrained(str(model_dir)), asked, passages)
            return {"model_dir": model_dir, "db": db, "asked": asked, "qa": qa, "passages": passages, "windows": windows}

        ready = state.part("setup", setup)
        if ready:
            model_variants, read_variants = variants(device.type, args.quick)
            shape = model_shape(json.loads((ready["model_dir"] / "config.json").read_text()))
            results["standin"] = {"questions": n_questions, "depth": args.depth, "windows": len(ready["windows"]), "shape": shape.__dict__,
                                  "tokens": sum(len(w.input_ids) for w in ready["windows"])}  # fmt: skip
            if "model" in wanted:
                results["model_only"] = state.part("model", lambda: parts.model_only(ready["model_dir"], ready["windows"], device, peak, model_variants))
            if "ask" in wanted:
                results["ask_batch"] = state.part("ask", lambda: parts.ask_batch(ready["db"], ready["model_dir"], ready["asked"], device, args.depth, work))
            if "api" in wanted:
                results["api"] = state.part("api", lambda: parts.api_runs(ready["db"], ready["model_dir"], [q.question for q in questions], device,
                                                                         args.clients, api_seconds, args.depth, work))  # fmt: skip
            if "read" in wanted:
                asked, passages = ready["asked"][:n_read], ready["passages"][:n_read]
                pairs = sum(1 for docs in passages for doc in docs if doc.content)  # the windows of these questions come first
                lengths = [len(w.input_ids) for w in ready["windows"] if w.pair < pairs]
                top_k = ready["qa"].candidates(ready["qa"].config.ask.top_k, args.depth)
                results["read_batch"] = state.part("read", lambda: parts.read_batch_runs(ready["model_dir"], asked, passages, device, peak, top_k,
                                                                                        read_variants, shape, lengths))  # fmt: skip
    state.write()
    table = markdown_table(("part", "figure", "value"), summary_rows(results))
    (state.out / "gpu-table.md").write_text(table + "\n")
    print(f"\nfull figures: {state.out / 'gpu.json'}; {results['seconds']:.0f} s\n")
    print(table)
    return 1 if results["errors"] else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="fill the carry folder here")
    p.add_argument("--carry", default=str(REPO / gpu_carry.CARRY))
    p.add_argument("--fixture", default=str(SHARED / "models" / "qa-minilm-uncased"))
    p.add_argument("--squad", default=str(SHARED / "data" / "squad" / "dev-v1.1-public.json"))
    p.add_argument("--vocab", default=str(SHARED / "data" / "vocab-bert-base-cased" / "vocab.txt"))
    p.add_argument("--questions", type=int, default=500, help="questions of the fixture check (default 500)")
    p.add_argument("--first-article", type=int, default=12, help="the check reads articles from this one on (default 12: the report half)")
    p.add_argument("--no-wheels", action="store_true", help="skip downloading the wheels (tests; a device with docqa's packages)")
    s = sub.add_parser("size", help="what would travel, against the 64 MiB limit")
    s.add_argument("--carry", default=gpu_carry.CARRY)
    r = sub.add_parser("run", help="measure (on the device machine)")
    r.add_argument("--carry", default=str(REPO / gpu_carry.CARRY))
    r.add_argument("--out", default=None, help="folder for gpu.json (default $OUT, else bench/out/gpu)")
    r.add_argument("--device", default=None, help="cuda (default when torch sees one) or cpu")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--parts", default=None, help=f"comma-separated, of {','.join(PARTS)} (default all; matmul always runs)")
    r.add_argument("--questions", type=int, default=None, help="questions of model/ask (default 1000; --quick 200)")
    r.add_argument("--read-questions", type=int, default=None, help="questions of read (default 200; --quick 50)")
    r.add_argument("--depth", type=int, default=20, help="passages retrieved and read per question")
    r.add_argument("--clients", type=int, default=64)
    r.add_argument("--api-seconds", type=float, default=None, help="load per API run (default 20; --quick 5)")
    r.add_argument("--matmul-n", type=int, default=None, help="matrix size of the rate measurement (default 8192 on CUDA, 512 on a CPU)")
    r.add_argument("--tiny-standin", action="store_true", help="a 2-layer stand-in instead of the full-size one (CPU smoke runs)")
    r.add_argument("--budget-s", type=float, default=450.0, help="parts not started by then are skipped (default 450)")
    args = parser.parse_args()
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    if args.command == "size":
        print(gpu_carry.format_size_report(gpu_carry.size_report(REPO, [args.carry])))
        raise SystemExit(0)
    raise SystemExit(prepare(args) if args.command == "prepare" else run(args))


if __name__ == "__main__":
    main()
