"""Distinct answers whose scores are probabilities (issue 21), on the dump of bench/ranking.py.

    nice -n 10 python bench/ranking.py dump --articles 0-11 --precision bf16 --runs open
    nice -n 10 python bench/ranking.py dump --articles 12-23 --precision bf16 --runs open
    python bench/distinct.py tune --every 5       # rules and temperature, articles 0-11, every 5th question
    python bench/distinct.py calibrate            # TEMPERATURE, TOP_TEMPERATURE, NONE_WEIGHT: maximum likelihood, articles 0-11
    python bench/distinct.py report               # held out: articles 12-23, all questions, before and now
    python bench/distinct.py ceiling              # held out: the best F1 any K distinct answers reach
    python bench/distinct.py answers A.jsonl      # the same figures of `docqa ask --batch`'s own answers

Each question is ranked from its 20 passages (open mode: the index holds its article) with
top_k 5 and min_score 0, as `docqa ask --batch` lists answers, by `pipeline.ranking.rank` of
this tree and, for "before", by the `rank` of pipeline/ranking.py at commit BEFORE (read with
`git show`, so the comparison is the product's own code, not a re-implementation). Figures per
question set:

- overlapping: share of questions two of whose top 5 answers have places (any source) that
  share characters of one file;
- sum > 1: share of questions whose top 5 scores add up to more than 1;
- top-1 F1 / EM, and the best F1 among the top 5 answers;
- ECE of the top answer's score against its exact match (10 equal-width bins, as BENCHMARKS.md
  measured it), and ECE over every answer of the top 5 (each score against its own exact match).

`tune` ranks once per rule (OVERLAP, REPEAT_SUPPORT, NO_ANSWER) with every answer listed, and
applies each TEMPERATURE to the shares offline (P = s ** T / (sum of s ** T + rest ** T), the
formula of pipeline/ranking.py), since the temperature never reorders answers; it prints, per
rule, the temperature of least ECE over the top 5 answers (five times the answers of the top-1
ECE, whose 10 bins hold about a dozen questions each on a small tuning set).

`calibrate` fits the three constants of the last step together, by maximum likelihood of what
happened on each tuning question: the answers listed that match a reference exactly, or "none
of these". The likelihood is a proper score, so it asks for every answer's probability to be
right, not only the first's; ECE is then measured, not fitted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import ranking as bench  # noqa: E402  (bench/ranking.py: the dump and its helpers)

BEFORE = "22dbb17"  # the last commit before issue 21
TOP_K = 5
OUT = bench.OUT


def rank_before(commit: str = BEFORE) -> Any:
    """pipeline/ranking.py's rank() as it was at `commit`."""
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{commit}:pipeline/ranking.py"], check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("ranking_before")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{commit}:pipeline/ranking.py", "exec"), module.__dict__)
    return module.rank


def _span(source: Any) -> tuple[str, int, int]:
    """(file, first, last character in the file) of a source; the dump's passage id is 'file#offset'."""
    file, _, offset = source.passage_id.rpartition("#")
    return file, int(offset) + source.start, int(offset) + source.end


def overlapping(answers: list[Any]) -> bool:
    """Two different answers with places that share characters of one file."""
    spans = [[_span(s) for s in a.sources] for a in answers]
    for i in range(len(spans)):
        for j in range(i + 1, len(spans)):
            if any(f == g and s < e2 and s2 < e for f, s, e in spans[i] for g, s2, e2 in spans[j]):
                return True
    return False


@dataclasses.dataclass
class Listed:
    """One question's answers, best first: (text, share, score) each, the rest's share, and overlap."""

    item: Any
    answers: list[tuple[str, float, float]]
    rest: float
    overlaps: bool


def listed(its: list[Any], rank: Any, constants: Any, top_k: int) -> list[Listed]:
    out = []
    for item in its:
        answers = [a for passage in item.open for a in passage]
        ranking = rank(item.question.question, answers, top_k=top_k, constants=constants, counts=item.counts["open"])
        shown = ranking.answers or ranking.candidates
        share = [getattr(a, "share", None) or getattr(a, "probability", 0.0) for a in shown]
        out.append(Listed(item, [(a.text, s, a.score) for a, s in zip(shown, share)], max(0.0, 1 - sum(share)), overlapping(shown[:TOP_K])))
    return out


def tempered(entry: Listed, temperature: float, none_weight: float = 1.0, top_temperature: float | None = None) -> list[float]:
    """The answers' probabilities at TEMPERATURE, TOP_TEMPERATURE (None: the same) and NONE_WEIGHT
    (pipeline/ranking.py's formula), from the shares of every answer."""
    from pipeline.ranking import Constants, probabilities

    top = temperature if top_temperature is None else top_temperature
    constants = Constants(temperature=temperature, top_temperature=top, none_weight=none_weight)
    return probabilities([s for _, s, _ in entry.answers], entry.rest, constants)


def figures(entries: list[Listed], scores: list[list[float]] | None = None) -> dict[str, Any]:
    """The figures of the module docstring; `scores` replaces each question's scores (same order)."""
    top_score, top_em, all_score, all_em = [], [], [], []
    f1_top, em_top, f1_best, over, past, others = [], [], [], [], [], []
    for n, entry in enumerate(entries):
        texts = [t for t, _, _ in entry.answers[:TOP_K]]
        s = (scores[n] if scores is not None else [x for _, _, x in entry.answers])[:TOP_K]
        f1s = [bench._scores(entry.item, t) for t in texts] or [(0.0, 0.0)]
        f1_top.append(f1s[0][0])
        em_top.append(f1s[0][1])
        f1_best.append(max(f for f, _ in f1s))
        over.append(entry.overlaps)
        past.append(sum(s) > 1 + 1e-9)
        others.append(sum(s[1:]))
        if s:
            top_score.append(s[0])
            top_em.append(f1s[0][1])
            all_score.extend(s)
            all_em.extend(e for _, e in f1s)
    n = len(entries)
    ece, bins = bench.reliability(top_score, top_em)
    return {
        "questions": n,
        "overlapping": sum(over) / n,
        "sum_past_1": sum(past) / n,
        "f1_top1": 100 * sum(f1_top) / n,
        "em_top1": 100 * sum(em_top) / n,
        "f1_best_of_5": 100 * sum(f1_best) / n,
        "ece_top1": ece,
        "ece_top5": bench.reliability(all_score, all_em)[0],
        "mean_top1_score": sum(top_score) / n,
        "mean_score_of_answers_2_to_5": sum(others) / n,  # summed over the four, averaged over questions
        "reliability": bins,
    }


def _print(name: str, f: dict[str, Any]) -> None:
    print(
        f"{name}: {f['questions']} q, overlapping {f['overlapping']:.1%}, sum>1 {f['sum_past_1']:.1%}, "
        f"top-1 F1 {f['f1_top1']:.2f} EM {f['em_top1']:.2f}, best of 5 F1 {f['f1_best_of_5']:.2f}, "
        f"ECE top-1 {f['ece_top1']:.3f}, top-5 {f['ece_top5']:.3f}, "
        f"mean score: top {f['mean_top1_score']:.3f}, answers 2-5 together {f['mean_score_of_answers_2_to_5']:.3f}",
        file=sys.stderr,
    )


TEMPERATURES = [round(0.3 + 0.05 * i, 2) for i in range(35)]  # 0.3 .. 2.0


def tune(args: argparse.Namespace) -> None:
    from pipeline.ranking import CONSTANTS, rank

    questions, _, _ = bench.load()
    its = bench.items(bench.select(questions, args.articles, args.every), args.precision)
    results: dict[str, Any] = {"articles": args.articles, "every": args.every, "before": {}, "rules": []}
    before = figures(listed(its, rank_before(), _before_constants(), TOP_K))
    results["before"] = {k: v for k, v in before.items() if k != "reliability"}
    _print("before", before)
    for overlap in args.overlap.split(","):
        for repeat in [float(x) for x in args.repeat_support.split(",")]:
            for no_answer in [float(x) for x in args.no_answer.split(",")]:
                constants = dataclasses.replace(CONSTANTS, overlap=overlap, repeat_support=repeat, no_answer=no_answer, temperature=1.0)
                entries = listed(its, rank, constants, 10_000)  # every answer, for the offline temperatures
                for none_weight in [float(x) for x in args.none_weight.split(",")]:
                    for temperature in TEMPERATURES:
                        f = figures(entries, [tempered(e, temperature, none_weight) for e in entries])
                        row = {"overlap": overlap, "repeat_support": repeat, "no_answer": no_answer, "none_weight": none_weight, "temperature": temperature}
                        row.update({k: v for k, v in f.items() if k != "reliability"})
                        results["rules"].append(row)
                    rows = [r for r in results["rules"] if (r["overlap"], r["repeat_support"], r["no_answer"], r["none_weight"]) == (overlap, repeat, no_answer, none_weight)]
                    for figure in ("ece_top1", "ece_top5"):
                        best = min(rows, key=lambda r: r[figure])
                        _print(f"overlap {overlap}, repeat_support {repeat}, no_answer {no_answer}, none_weight {none_weight}, T {best['temperature']} (least {figure})", best)
    path = OUT / f"distinct-tune-{args.precision}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}", file=sys.stderr)


def _shares(entries: list[Listed]) -> tuple[Any, Any, Any, Any]:
    """Every question's shares in one padded matrix (answers by share, first column the largest),
    which of them match a reference exactly, the rest's share, and the mask of real answers."""
    import numpy as np

    width = max(len(e.answers) for e in entries)
    share, exact, real = (np.zeros((len(entries), width)) for _ in range(3))
    for n, e in enumerate(entries):
        ranked = sorted(e.answers, key=lambda a: -a[1])
        share[n, : len(ranked)] = [s for _, s, _ in ranked]
        exact[n, : len(ranked)] = [bench._scores(e.item, text)[1] for text, _, _ in ranked]
        real[n, : len(ranked)] = 1.0
    rest = np.array([e.rest for e in entries])
    return share, exact, rest, real


def log_likelihood(params: Any, share: Any, exact: Any, rest: Any, real: Any) -> float:
    """Mean log-probability, under TEMPERATURE, TOP_TEMPERATURE and log NONE_WEIGHT = `params`,
    of what happened: the answers listed that match a reference exactly (their probabilities
    added), or "none of these" where none does."""
    import numpy as np

    temperature, top, log_none = params
    tiny = 1e-300
    exponent = np.full(share.shape[1], temperature)
    exponent[0] = top
    log_p = np.where(real > 0, exponent * np.log(np.maximum(share, tiny)), -np.inf)
    log_none_term = log_none + temperature * np.log(np.maximum(rest, tiny))
    every = np.concatenate([log_p, log_none_term[:, None]], axis=1)
    norm = np.logaddexp.reduce(every, axis=1)
    hit = exact.max(axis=1) > 0
    right = np.where(hit, np.logaddexp.reduce(np.where(exact > 0, log_p, -np.inf), axis=1), log_none_term)
    return float(np.mean(right - norm))


def calibrate(args: argparse.Namespace) -> None:
    """Fit TEMPERATURE, TOP_TEMPERATURE and NONE_WEIGHT by maximum likelihood on the tuning questions."""
    from scipy.optimize import minimize

    from pipeline.ranking import CONSTANTS, rank

    questions, _, _ = bench.load()
    its = bench.items(bench.select(questions, args.articles, args.every), args.precision)
    shares_only = dataclasses.replace(CONSTANTS, temperature=1.0, top_temperature=1.0, none_weight=1.0)
    entries = listed(its, rank, shares_only, 10_000)  # every answer: the shares
    data = _shares(entries)
    results: dict[str, Any] = {"articles": args.articles, "every": args.every, "questions": len(entries), "fits": []}

    def show(name: str, temperature: float, top: float, none_weight: float, fitted: bool) -> None:
        f = figures(entries, [tempered(e, temperature, none_weight, top) for e in entries])
        ll = log_likelihood((temperature, top, math.log(none_weight)), *data)
        _print(f"{name}: T {temperature:.3f}, TOP_T {top:.3f}, NONE_WEIGHT {none_weight:.3f}, log-likelihood {ll:.4f}", f)
        results["fits"].append({"name": name, "fitted": fitted, "temperature": temperature, "top_temperature": top, "none_weight": none_weight,
                                "log_likelihood": ll, **{k: v for k, v in f.items() if k != "reliability"}})

    show("the constants of this tree", CONSTANTS.temperature, CONSTANTS.top_temperature, CONSTANTS.none_weight, False)
    # One temperature for all (TOP_T = T), then the first answer's own: TOP_T = ratio * T, ratio <= 1.
    for name, ratio, ratio_bounds in (("fitted, one temperature", 1.0, (1.0, 1.0)), ("fitted, the first answer's own temperature", 0.5, (0.01, 1.0))):
        fit = minimize(
            lambda x: -log_likelihood((x[0], x[0] * x[1], x[2]), *data),
            x0=[0.85, ratio, 0.0],
            bounds=[(0.05, 3.0), ratio_bounds, (-5.0, 5.0)],
            method="L-BFGS-B",
        )
        temperature, top, none_weight = fit.x[0], fit.x[0] * fit.x[1], math.exp(fit.x[2])
        show(name, temperature, top, none_weight, True)
        rounded = (round(temperature, 2), round(top, 2), round(none_weight, 2))
        show(f"{name}, rounded", *rounded, False)
    path = OUT / f"distinct-calibrate-{args.precision}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}", file=sys.stderr)


def _before_constants() -> Any:
    return sys.modules["ranking_before"].CONSTANTS


def report(args: argparse.Namespace) -> None:
    from pipeline.ranking import CONSTANTS, rank

    questions, _, _ = bench.load()
    its = bench.items(bench.select(questions, args.articles, args.every), args.precision)
    old = rank_before()
    results = {"articles": args.articles, "every": args.every, "constants": dataclasses.asdict(CONSTANTS)}
    for name, fn, constants in (("before", old, _before_constants()), ("now", rank, CONSTANTS)):
        f = figures(listed(its, fn, constants, TOP_K))
        results[name] = f
        _print(name, f)
    path = OUT / f"distinct-report-{args.precision}.json"
    path.write_text(json.dumps(results, indent=1))
    print(f"wrote {path}", file=sys.stderr)
    if args.plot:
        plot(results["now"], args.plot)


def ceiling(args: argparse.Namespace) -> None:
    """The best F1 among the first K distinct answers, for K up to every answer the ranking
    lists: no choice of five distinct answers can pass the figure for every answer."""
    from pipeline.ranking import CONSTANTS, rank

    questions, _, _ = bench.load()
    its = bench.items(bench.select(questions, args.articles, args.every), args.precision)
    entries = listed(its, rank, CONSTANTS, 10_000)
    f1 = [[bench._scores(e.item, text)[0] for text, _, _ in e.answers] or [0.0] for e in entries]
    print(f"articles {args.articles}, every {args.every}th question: {len(entries)}; mean answers listed {sum(map(len, f1)) / len(f1):.1f}")
    for k in (1, 5, 10, 20, None):
        best = sum(max(row[:k]) for row in f1) / len(f1)
        print(f"best F1 among {f'the first {k}' if k else 'every answer listed'}: {100 * best:.2f}")


def answers(args: argparse.Namespace) -> None:
    """The figures of `docqa ask --batch`'s own answers (a JSONL of the public half's questions):
    each question's top 5 (its candidates when no answer passed ask.min_score), scored against
    the references. What a user of the product sees, where `report` ranks the dump."""
    from pipeline.evaluate import exact_match, f1

    references = {q.id: q.answers for q in bench.load()[0]}
    top_score, top_em, all_score, all_em, f1_top, f1_best, past = [], [], [], [], [], [], []
    with open(args.jsonl, encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            shown = (record.get("answers") or record.get("candidates") or [])[:TOP_K]
            golds = references[record["id"]]
            scored = [(a["score"], max(f1(a["answer"], g) for g in golds), max(exact_match(a["answer"], g) for g in golds)) for a in shown]
            f1_top.append(scored[0][1] if scored else 0.0)
            f1_best.append(max((f for _, f, _ in scored), default=0.0))
            past.append(sum(s for s, _, _ in scored) > 1 + 1e-9)
            if scored:
                top_score.append(scored[0][0])
                top_em.append(scored[0][2])
                all_score.extend(s for s, _, _ in scored)
                all_em.extend(e for _, _, e in scored)
    n = len(f1_top)
    ece, bins = bench.reliability(top_score, top_em)
    print(f"{args.jsonl}: {n} questions, top-1 F1 {100 * sum(f1_top) / n:.2f} EM {100 * sum(top_em) / n:.2f}, "
          f"best of 5 F1 {100 * sum(f1_best) / n:.2f}, sum>1 {sum(past) / n:.1%}, ECE top-1 {ece:.3f}, "
          f"top-5 {bench.reliability(all_score, all_em)[0]:.3f}, mean top score {sum(top_score) / len(top_score):.3f}")
    for mean_score, share, count in bins:
        print(f"  score {mean_score:.3f}: exact {share:.3f} ({count})")


def plot(f: dict[str, Any], path: str) -> None:
    bench.plot_reliability(f["reliability"], "score of the top answer (mean over the bin)",
                           f"Reliability, open mode, 20 passages\nECE {f['ece_top1']:.3f} ({f['questions']} held-out questions)", REPO / path)
    print(f"wrote {path}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tune", help="rules and temperature on the tuning questions")
    t.add_argument("--articles", default="0-11")
    t.add_argument("--every", type=int, default=5)
    t.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    t.add_argument("--overlap", default="merge,drop,ignore")
    t.add_argument("--repeat-support", default="0,0.2,0.3,0.4,0.5,0.6,2")
    t.add_argument("--no-answer", default="2")
    t.add_argument("--none-weight", default="1", help="NONE_WEIGHT values: the factor of 'none of these' against the answers, applied offline as T is")
    r = sub.add_parser("report", help="held out: before and now")
    r.add_argument("--articles", default="12-23")
    r.add_argument("--every", type=int, default=1)
    r.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    r.add_argument("--plot", default=None, help="write the reliability plot of 'now' here, e.g. bench/ranking-reliability.png")
    k = sub.add_parser("calibrate", help="TEMPERATURE, TOP_TEMPERATURE and NONE_WEIGHT by maximum likelihood on the tuning questions")
    k.add_argument("--articles", default="0-11")
    k.add_argument("--every", type=int, default=1)
    k.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    a = sub.add_parser("answers", help="the figures of docqa ask --batch's answers to public-half questions")
    a.add_argument("jsonl", help="the answers file of `docqa ask --batch --out`")
    c = sub.add_parser("ceiling", help="best F1 among the first K distinct answers, K up to all")
    c.add_argument("--articles", default="12-23")
    c.add_argument("--every", type=int, default=4)
    c.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    args = parser.parse_args()
    {"tune": tune, "calibrate": calibrate, "report": report, "answers": answers, "ceiling": ceiling}[args.command](args)


if __name__ == "__main__":
    main()
