"""The GPU benchmark's arithmetic and verdicts (bench/gpu.py): FLOPs of a reading, answer
agreement between precisions, and the table printed last.

Pure functions without torch, so tests check them on hand-made numbers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# A disagreement between two precisions is a near-tie when fp32 on the CPU gives the other
# precision's top answer a probability within this many nats of its own top answer's (the
# reader orders a question's answers by probability): exp(0.5) = 1.65x. Chosen before any
# GPU run, from CPU bf16 and fp16 against fp32 on 200 questions of articles 0-11: bf16's top
# answers flipped 3 times, at margins of 0.003-0.042 nats, and its scores drifted by at most
# 0.16, so two answers' gap can move by up to about 0.32 (BENCHMARKS.md, GPU). The check
# itself reads articles 12-23.
TIE_NATS = 0.5
# The F1 of another precision must be within this of fp32's (issue 24).
MAX_F1_DELTA = 0.3


@dataclass(frozen=True)
class Shape:
    """What a transformer encoder's matrix products cost: layers, width, feed-forward width, heads."""

    layers: int
    hidden: int
    intermediate: int
    heads: int


def model_shape(config: Mapping[str, Any]) -> Shape:
    """The Shape of a transformers config.json: DistilBERT's keys (dim, hidden_dim, n_layers) or BERT's."""
    if "dim" in config:
        return Shape(int(config["n_layers"]), int(config["dim"]), int(config["hidden_dim"]), int(config["n_heads"]))
    try:
        return Shape(
            int(config["num_hidden_layers"]), int(config["hidden_size"]), int(config["intermediate_size"]), int(config["num_attention_heads"])
        )
    except KeyError as exc:
        raise ValueError(f"config has neither DistilBERT's (dim, hidden_dim, n_layers) nor BERT's keys: missing {exc}") from None


def token_flops(shape: Shape) -> int:
    """FLOPs per token of the matrix products that do not depend on the sequence's length.

    Per layer: the Q, K, V and output projections (4 x d x d multiply-adds) and the two
    feed-forward products (2 x d x h); then the span head (d x 2). A multiply-add is 2 FLOPs.
    Embedding lookups, LayerNorm, softmax, GELU and biases are not counted (no matrix
    product; under 1% of the total). DistilBERT-base: 6 x (4 x 768^2 + 2 x 768 x 3072) x 2
    = 84.9 MFLOP.
    """
    d, h = shape.hidden, shape.intermediate
    return 2 * (shape.layers * (4 * d * d + 2 * d * h) + 2 * d)


def sequence_flops(shape: Shape, length: int) -> int:
    """FLOPs of one sequence of `length` tokens: token_flops per token, plus attention's two
    products per layer (Q K^T and the weighted sum of V: 2 x L^2 x d multiply-adds over all heads)."""
    return length * token_flops(shape) + shape.layers * 2 * 2 * length * length * shape.hidden


def reading_flops(shape: Shape, batches: Iterable[Sequence[int]]) -> tuple[int, int]:
    """(useful, executed) FLOPs of forward passes over batches of sequences of these lengths.

    Useful counts each sequence at its own length; executed counts every sequence of a batch
    at the batch's longest (padding is computed too). Shares of the chip are quoted on the
    useful figure, so padding counts against the reader.
    """
    useful = executed = 0
    for lengths in batches:
        if not lengths:
            continue
        useful += sum(sequence_flops(shape, n) for n in lengths)
        executed += len(lengths) * sequence_flops(shape, max(lengths))
    return useful, executed


def matmul_flops(n: int) -> int:
    """FLOPs of one n x n by n x n matrix product."""
    return 2 * n**3


@dataclass(frozen=True)
class Candidate:
    text: str
    score: float  # raw start+end logit sum
    log_probability: float  # of the answer (equal texts of a passage merged), what orders answers


def agreement(
    reference: Mapping[str, Sequence[Candidate]], other: Mapping[str, Sequence[Candidate]], tie: float = TIE_NATS
) -> dict[str, Any]:
    """How far `other`'s top answers agree with `reference`'s (both: question id -> candidates, best first).

    A question agrees when the top texts are equal (surrounding whitespace ignored). A
    disagreement is a near-tie when the reference gives other's top answer a log-probability
    within `tie` nats of its own top's; otherwise (other's top not among the reference's
    candidates, or further below) it is a real disagreement. Score drift: |other's raw score
    - reference's| of the reference's top answer, where other has it among its candidates.
    """
    missing = sorted(set(reference) ^ set(other))
    if missing:
        raise ValueError(f"the two readings answer different questions, e.g. {missing[:3]}: read the same question ids")
    same = near = 0
    real: list[dict[str, Any]] = []
    ties: list[dict[str, Any]] = []
    drift: list[float] = []
    for qid in sorted(reference):
        ref, oth = reference[qid], other[qid]
        ref_top = ref[0].text.strip() if ref else ""
        oth_top = oth[0].text.strip() if oth else ""
        scores_in_other = {c.text.strip(): c.score for c in reversed(oth)}
        if ref and ref_top in scores_in_other:
            drift.append(abs(scores_in_other[ref_top] - ref[0].score))
        if ref_top == oth_top:
            same += 1
            continue
        ref_log_p = {c.text.strip(): c.log_probability for c in reversed(ref)}
        margin = ref[0].log_probability - ref_log_p[oth_top] if ref and oth_top in ref_log_p else math.inf
        record = {"id": qid, "reference": ref_top, "other": oth_top, "reference_margin": margin}
        if margin <= tie:
            near += 1
            ties.append(record)
        else:
            real.append(record)
    return {
        "questions": len(reference),
        "same_top": same,
        "near_ties": near,
        "disagreements": len(real),
        "tie_nats": tie,
        "max_score_drift": max(drift, default=0.0),
        "median_score_drift": statistics.median(drift) if drift else 0.0,
        "near_tie_list": ties,
        "disagreement_list": real,
    }


def verdict(agreed: Mapping[str, Any], f1: float, reference_f1: float, max_delta: float = MAX_F1_DELTA) -> dict[str, Any]:
    """Issue 24's rule: top answers equal except near-ties, and F1 within max_delta of the reference's."""
    delta = f1 - reference_f1
    passed = agreed["disagreements"] == 0 and abs(delta) <= max_delta
    return {"passed": passed, "f1": f1, "reference_f1": reference_f1, "f1_delta": delta, "max_f1_delta": max_delta}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats with 3 significant digits past the point where small."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def summary_rows(results: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """(part, figure, value) rows of the short table bench/gpu.py prints last, from its JSON
    (a part that failed or was skipped is None or absent there)."""
    rows: list[tuple[str, str, Any]] = []
    env = results.get("environment") or {}
    rows.append(("environment", "device", env.get("device_name", "?")))
    peak = results.get("matmul")
    if peak:
        rows.append(("matmul", f"dense {peak['dtype']} TFLOP/s ({peak['n']}^3, median)", peak["tflops"]))
    for mode, check in ((results.get("fixture") or {}).get("checks") or {}).items():
        rows.append(("fixture", f"{mode}: same top / near-ties / disagreements", f"{check['same_top']} / {check['near_ties']} / {check['disagreements']}"))
        rows.append(("fixture", f"{mode}: F1 vs fp32 CPU (delta)", f"{check['f1']:.2f} vs {check['reference_f1']:.2f} ({check['f1_delta']:+.2f})"))
        rows.append(("fixture", f"{mode}: passed", check["passed"]))
    for variant in results.get("model_only") or []:
        rows.append(("model only", f"{variant['name']}: tokens/s, share of matmul", f"{variant['tokens_per_s']:,.0f}, {variant['share']:.0%}"))
    for variant in results.get("read_batch") or []:
        rows.append(("read_batch", f"{variant['name']}: passages/s, share", f"{variant['passages_per_s']:,.0f}, {variant['share']:.0%}"))
    batch = results.get("ask_batch")
    if batch:
        rows.append(("ask --batch", f"{batch['questions']} q x {batch['retrieve_k']} passages: questions/s", batch["questions_per_s"]))
        shares = ", ".join(f"{k} {v:.0%}" for k, v in batch.get("shares", {}).items())
        rows.append(("ask --batch", "where the time goes", shares))
    for run in results.get("api") or []:
        rows.append(("/ask", f"{run['clients']} clients, micro-batching {run['micro_batching']}: q/s, p50 s", f"{run['qps']:.1f}, {run['p50']:.2f}"))
    for part, error in (results.get("errors") or {}).items():
        rows.append((part, "FAILED", error))
    for part in results.get("skipped") or []:
        rows.append((part, "skipped", "past the time budget"))
    return rows
