"""Ranking answers across passages (issue 13): dump what the reader says once, then evaluate formulas offline.

Reading is the cost (20-25 passages/s on the 2-core machine at fp32), so the benchmark is in
two steps:

    nice -n 5 python bench/ranking.py dump --articles 0-11 --precision bf16
    nice -n 5 python bench/ranking.py dump --articles 12-23 --precision bf16
    python bench/ranking.py sweep                    # each constant varied alone, tuning set
    python bench/ranking.py report --tune 0-11 --every 1 --on 12-23 --precision bf16
    python bench/ranking.py plot --precision bf16    # bench/ranking-*.png

`dump`: every paragraph of the SQuAD v1.1 dev public half is indexed as its own document
(`squad:<paragraph>`, docqa's own cleaner and splitter, as `docqa eval squad` does). For each
question of the chosen articles it retrieves the top 20 passages (`bm25_retrieval`) twice:
from that index ("open": the answer exists) and from an index without the question's own
article ("none": no answer exists). Each (question, passage) pair is read on its own
(`Reader.read_batch` with one passage per entry, `top_k` large), so what is stored for it is
independent of the other passages read: every candidate's text, offsets, raw score and
within-passage probability, and the passage's log-normaliser. Reads are cached by (question
id, passage) in bench/out/ranking/, so the no-answer run reuses the pairs the open run read,
and an interrupted dump resumes. The question's own paragraph is also read whole, alone, with
top_k 1, as `docqa eval squad --mode reader` does (the gold-paragraph baseline).

`report` and `sweep` rebuild `Answer`s from the dump and rank them with
`pipeline.ranking.rank`, so the figures are those of the product's own function (F1 at each
depth 1..20, no-answer refusal, calibration), the question's words weighed by all 20 passages
retrieved at every depth, as `docqa ask` weighs them; `plot` draws them into bench/ (from
report-<precision>.json and sweep-<precision>.json). Results and
figures: BENCHMARKS.md, "Ranking answers across passages".
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SQUAD = SHARED / "data" / "squad" / "dev-v1.1-public.json"
MODEL = SHARED / "models" / "qa-minilm-uncased"
OUT = REPO / "bench" / "out" / "ranking"
DEPTH = 20  # passages retrieved per question
PER_PASSAGE = 20  # candidates kept per (question, passage) pair
CHUNK = 128  # pairs read (and appended to the cache) at a time
sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: list[str]
    context: str
    paragraph: int
    article: int


def load() -> tuple[list[Question], list[str], list[int]]:
    """Every question and paragraph of the public half, and the article of each paragraph."""
    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    questions, paragraphs, article_of = [], [], []
    for a, article in enumerate(data):
        for paragraph in article["paragraphs"]:
            paragraphs.append(paragraph["context"])
            article_of.append(a)
            for qa in paragraph["qas"]:
                answers = [x["text"] for x in qa["answers"]]
                questions.append(Question(qa["id"], qa["question"], answers, paragraph["context"], len(paragraphs) - 1, a))
    return questions, paragraphs, article_of


def articles(spec: str) -> list[int]:
    """'0-11' or '0,3,5' -> article indices."""
    out: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def select(questions: list[Question], spec: str, every: int, offset: int = 0) -> list[Question]:
    """The questions of the articles in `spec`; every `every`-th of them (in file order, from the `offset`-th) when > 1."""
    wanted = set(articles(spec))
    chosen = [q for q in questions if q.article in wanted]
    return chosen[offset::every]


def passage_key(doc: Any) -> str:
    return f"{doc.meta['file_path']}#{doc.meta['split_idx_start']}"


# -- dump -------------------------------------------------------------------------------------


def _index(paragraphs: list[str], keep: list[int], db: Path) -> Any:
    from ingest.indexer import index_text
    from ingest.options import IngestOptions
    from store.document_store import SQLiteDocumentStore

    store = SQLiteDocumentStore(db)
    options = IngestOptions()
    for i in keep:
        index_text(store, f"squad:{i}", paragraphs[i], options)
    return store


def _retrieve(store: Any, questions: list[Question]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for q in questions:
        docs = store.bm25_retrieval(q.question, top_k=DEPTH)
        out[q.id] = [
            {"key": passage_key(d), "paragraph": int(d.meta["file_path"].split(":", 1)[1]), "score": d.score, "content": d.content}
            for d in docs
        ]
    return out


def retrieval(questions: list[Question], paragraphs: list[str], article_of: list[int]) -> dict[str, dict[str, list]]:
    """Per question: the top 20 passages of the full index ("open") and of the index without its article ("none")."""
    path = OUT / "retrieval.json"
    cached: dict[str, dict[str, list]] = json.loads(path.read_text()) if path.exists() else {}
    todo = [q for q in questions if q.id not in cached]
    if todo:
        with tempfile.TemporaryDirectory(prefix="docqa-ranking-") as tmp:
            started = time.perf_counter()
            full = _index(paragraphs, list(range(len(paragraphs))), Path(tmp) / "all.db")
            opened = _retrieve(full, todo)
            full.close()
            print(f"indexed and retrieved {len(todo)} questions ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
            for a in sorted({q.article for q in todo}):
                keep = [i for i in range(len(paragraphs)) if article_of[i] != a]
                store = _index(paragraphs, keep, Path(tmp) / f"without-{a}.db")
                none = _retrieve(store, [q for q in todo if q.article == a])
                store.close()
                for qid, docs in none.items():
                    cached[qid] = {"open": opened[qid], "none": docs}
                print(f"article {a}: index without it, retrieved", file=sys.stderr)
        OUT.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached))
    return cached


def _reads_path(precision: str) -> Path:
    return OUT / f"reads-{precision}.jsonl"


def load_reads(precision: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(question id, passage key) -> {"log_norm", "candidates": [[text, start, end, score, p_in_passage], ...]}."""
    path = _reads_path(precision)
    reads = {}
    if path.exists():
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                reads[(record["q"], record["p"])] = record
    return reads


def _read(reader: Any, pairs: list[tuple[Question, str, str]], precision: str, desc: str, top_k: int = PER_PASSAGE) -> None:
    """Read each (question, passage key, passage text) alone and append the result to the cache."""
    from store.haystack_compat import Document

    if not pairs:
        return
    started = time.perf_counter()
    with _reads_path(precision).open("a", encoding="utf-8") as out:
        for first in range(0, len(pairs), CHUNK):
            chunk = pairs[first : first + CHUNK]
            read = reader.read_batch([q.question for q, _, _ in chunk], [[Document(content=text)] for _, _, text in chunk], top_k=top_k)
            for (q, key, _), answers in zip(chunk, read):
                record = {
                    "q": q.id,
                    "p": key,
                    "log_norm": answers[0].passage_log_norm if answers else None,
                    "candidates": [[a.text, a.start, a.end, a.score, a.probability] for a in answers],
                }
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.flush()
            done = first + len(chunk)
            rate = done / (time.perf_counter() - started)
            print(f"{desc}: {done}/{len(pairs)} pairs, {rate:.1f}/s, {(len(pairs) - done) / rate / 60:.0f} min left", file=sys.stderr)


def dump(args: argparse.Namespace) -> None:
    from pipeline.config import ReaderConfig
    from pipeline.reader import Reader

    questions, paragraphs, article_of = load()
    chosen = select(questions, args.articles, args.every, args.offset)
    retrieved = retrieval(chosen, paragraphs, article_of)
    reads = load_reads(args.precision)
    reader = Reader(ReaderConfig(model=str(MODEL), device="cpu", precision=args.precision))
    reader.warm_up()

    # Reader mode exactly as `docqa eval squad --mode reader` reads: the whole paragraph, top_k 1.
    own = [(q, "reader-mode", q.context) for q in chosen if (q.id, "reader-mode") not in reads]
    _read(reader, own, args.precision, "own paragraph (reader mode)", top_k=1)
    for run in args.runs.split(","):
        todo, seen = [], set()
        for q in chosen:
            for d in retrieved[q.id][run]:
                if (q.id, d["key"]) not in reads and (q.id, d["key"]) not in seen:
                    seen.add((q.id, d["key"]))
                    todo.append((q, d["key"], d["content"]))
        _read(reader, todo, args.precision, run)
        reads = load_reads(args.precision)

# -- report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One question of the dump: its gold answers, and the reader's candidates of each passage retrieved, in order."""

    question: Question
    own: str  # the reader's answer from the question's own paragraph (reader mode)
    open: list[list[Any]] | None  # per passage retrieved from the full index: the Answers read from it
    none: list[list[Any]] | None  # the same from the index without the question's article (None: not dumped)
    counts: dict[str, Any]  # "open", "none": the WordCounts of the question's words in the passages retrieved


def items(chosen: list[Question], precision: str) -> list[Item]:
    from store.haystack_compat import Document

    from pipeline.answers import Answer
    from pipeline.ranking import word_counts

    retrieved = json.loads((OUT / "retrieval.json").read_text())
    reads = load_reads(precision)
    out = []
    for q in chosen:
        runs, counts = {}, {}
        for run in ("open", "none"):
            if any((q.id, d["key"]) not in reads for d in retrieved[q.id][run]):
                runs[run], counts[run] = None, None  # not dumped (dump --runs): the figures that need it are skipped
                continue
            passages, docs = [], []
            for d in retrieved[q.id][run]:
                file, _, offset = d["key"].rpartition("#")
                doc = Document(id=d["key"], content=d["content"], meta={"file_path": file, "split_idx_start": int(offset)}, score=d["score"])
                record = reads[(q.id, d["key"])]
                passages.append([Answer(q.question, t, score, p, doc, s, e, record["log_norm"]) for t, s, e, score, p in record["candidates"]])
                docs.append(doc)
            runs[run] = passages
            counts[run] = word_counts(q.question, docs)  # the 20 retrieved, whatever the depth read (as QA ranks)
        if runs["open"] is None or (q.id, "reader-mode") not in reads:
            continue  # not (yet) dumped: left out, and the count of questions says so
        own = reads[(q.id, "reader-mode")]["candidates"]
        out.append(Item(q, own[0][0] if own else "", runs["open"], runs["none"], counts))
    if len(out) < len(chosen):
        print(f"{len(chosen) - len(out)} of {len(chosen)} questions not dumped in open mode: left out", file=sys.stderr)
    return out


def _scores(item: Item, text: str) -> tuple[float, float]:
    from pipeline.evaluate import exact_match, f1

    answers = item.question.answers
    return max(f1(text, a) for a in answers), max(exact_match(text, a) for a in answers)


def top_answer(item: Item, run: str, depth: int, constants: Any, retrieval_weight: float) -> tuple[str, float, float]:
    """The best answer (text, score, share) from the first `depth` passages of `run`, ranked by rank()."""
    from pipeline.ranking import rank

    answers = [a for passage in getattr(item, run)[:depth] for a in passage]
    ranking = rank(item.question.question, answers, top_k=1, retrieval_weight=retrieval_weight, constants=constants, counts=item.counts[run])
    best = ranking.answers or ranking.candidates
    return (best[0].text, best[0].score, best[0].share) if best else ("", 0.0, 0.0)


@dataclass
class Run:
    """Per question at one depth: the top answer's score, F1 and EM (open), and its score without the article (none)."""

    score: list[float]
    f1: list[float]
    em: list[float]
    none_score: list[float]
    share: list[float]  # the top answer's share of the evidence, before calibration

    @property
    def f1_mean(self) -> float:
        return 100 * sum(self.f1) / len(self.f1)

    @property
    def em_mean(self) -> float:
        return 100 * sum(self.em) / len(self.em)


def run_at(its: list[Item], depth: int, constants: Any, retrieval_weight: float, unanswerable: bool = True) -> Run:
    score, f1s, ems, none, share = [], [], [], [], []
    for item in its:
        text, s, sh = top_answer(item, "open", depth, constants, retrieval_weight)
        f, e = _scores(item, text)
        score.append(s)
        share.append(sh)
        f1s.append(f)
        ems.append(e)
        if unanswerable and item.none is not None:
            none.append(top_answer(item, "none", depth, constants, retrieval_weight)[1])
    return Run(score, f1s, ems, none, share)


def _drop_at(run: Run, refused: float) -> float:
    """Answerable F1 lost at the lowest min_score that refuses `refused` of the unanswerable questions."""
    if not run.none_score:
        return float("nan")
    threshold = sorted(run.none_score)[min(len(run.none_score) - 1, int(refused * len(run.none_score)))]
    return run.f1_mean - refusal(run, threshold)[1]


def refusal(run: Run, threshold: float) -> tuple[float, float]:
    """(share of unanswerable questions refused, answerable F1 kept) at min_score = threshold (refused: nan without a none dump)."""
    refused = sum(s < threshold for s in run.none_score) / len(run.none_score) if run.none_score else float("nan")
    kept = 100 * sum(f for f, s in zip(run.f1, run.score) if s >= threshold) / len(run.f1)
    return refused, kept


def best_refusal(run: Run, max_drop: float = 2.0) -> tuple[float, float]:
    """The most unanswerable questions refused while answerable F1 drops by <= max_drop: (share, min_score)."""
    base = run.f1_mean
    best = (0.0, 0.0)
    for t in sorted(set(run.score) | set(run.none_score)):
        refused, kept = refusal(run, t)
        if base - kept <= max_drop and refused > best[0]:
            best = (refused, t)
    return best


def reliability(score: list[float], hit: list[float], bins: int = 10) -> tuple[float, list[tuple[float, float, int]]]:
    """Expected calibration error over equal-width score bins, and (mean score, share of hits, count) per bin."""
    rows = []
    ece = 0.0
    for b in range(bins):
        members = [(s, h) for s, h in zip(score, hit) if min(int(s * bins), bins - 1) == b]
        if members:
            mean_score = sum(s for s, _ in members) / len(members)
            share = sum(h for _, h in members) / len(members)
            ece += len(members) / len(score) * abs(mean_score - share)
            rows.append((mean_score, share, len(members)))
    return ece, rows


def reader_top1_passage_f1(its: list[Item]) -> float:
    """F1 of the reader's own best span of the first passage retrieved (no ranking at all)."""
    return 100 * sum(_scores(i, i.open[0][0].text)[0] if i.open and i.open[0] else 0.0 for i in its) / len(its)


def previous_formula_f1(its: list[Item], depth: int, weight: float = 0.3) -> float:
    """F1 of the formula before issue 13: P ** (1 - w) * R ** w, P the reader probability
    normalised over the passages read and summed over same-text answers, R the best source's
    retrieval score relative to the best retrieved (re-implemented here to compare)."""
    import math

    from pipeline.normalize import normalize_answer

    total = 0.0
    for item in its:
        passages = item.open[:depth]
        norms = [p[0].passage_log_norm for p in passages if p]
        if not norms:
            continue
        top = max(norms)
        log_z = top + math.log(sum(math.exp(z - top) for z in norms))
        best_retrieval = max(p[0].passage.score for p in passages if p)
        groups: dict[str, list[Any]] = {}
        for passage in passages:
            for a in passage:
                g = groups.setdefault(normalize_answer(a.text) or a.text, [0.0, a])
                g[0] += math.exp(a.score - log_z)
                if a.score > g[1].score:
                    g[1] = a
        def blended(g: list[Any]) -> float:
            return g[0] ** (1 - weight) * (max(g[1].passage.score, 0) / best_retrieval) ** weight
        total += _scores(item, max(groups.values(), key=blended)[1].text)[0]
    return 100 * total / len(its)


def report(args: argparse.Namespace) -> None:
    import dataclasses

    from pipeline.ranking import CONSTANTS, RETRIEVAL_WEIGHT

    questions, _, _ = load()
    constants = CONSTANTS
    weight = RETRIEVAL_WEIGHT if args.retrieval_weight is None else args.retrieval_weight
    sets = {"tune": select(questions, args.tune, args.every)} if args.tune else {}
    if args.on:
        sets["report"] = select(questions, args.on, args.on_every)
    results: dict[str, Any] = {"precision": args.precision, "constants": dataclasses.asdict(constants), "retrieval_weight": weight}
    for name, chosen in sets.items():
        its = items(chosen, args.precision)
        reader_f1 = 100 * sum(_scores(i, i.own)[0] for i in its) / len(its)
        reader_em = 100 * sum(_scores(i, i.own)[1] for i in its) / len(its)
        started = time.perf_counter()
        curve = [run_at(its, d, constants, weight, unanswerable=False) for d in range(1, DEPTH + 1)]
        at = run_at(its, args.depth, constants, weight)
        summary = {}
        for depth in (5, 10, 20):
            r = at if depth == args.depth else run_at(its, depth, constants, weight)
            refused, kept = refusal(r, args.min_score)
            summary[depth] = {"f1": r.f1_mean, "refused": refused, "f1_kept": kept, "ece": reliability(r.score, r.em)[0]}
        ece, bins = reliability(at.score, at.em)
        refused, min_score = best_refusal(at)
        thresholds = [round(0.005 * i, 3) for i in range(0, 121)]
        # The window of min_score that refuses at least half of the unanswerable questions for at
        # most 2 F1 points on the answerable ones; ask.min_score is its middle on the tuning questions.
        refusal_curve = [(t, *refusal(at, t)) for t in thresholds]
        window = [t for t, refused_at, kept in refusal_curve if refused_at >= 0.5 and at.f1_mean - kept <= 2.0]
        entry = {
            "questions": len(its),
            "reader_mode": {"f1": reader_f1, "em": reader_em},
            "f1_by_depth": [c.f1_mean for c in curve],
            "em_by_depth": [c.em_mean for c in curve],
            "previous_formula_f1_by_depth": {d: previous_formula_f1(its, d) for d in (1, 5, 10, 20)},
            "reader_top1_passage_f1": reader_top1_passage_f1(its),
            "depth": args.depth,
            "at_depths": summary,
            "ece": ece,
            "reliability": bins,
            "refusal_at_2_points": {"refused": refused, "min_score": min_score},
            "refusal_curve": refusal_curve,
            "window": [window[0], window[-1]] if window else None,
            "at_min_score": dict(zip(("refused", "f1_kept"), refusal(at, args.min_score))),
            "min_score": args.min_score,
            "seconds": time.perf_counter() - started,
        }
        results[name] = entry
        print(f"{name}: {len(its)} questions, reader mode F1 {reader_f1:.2f} EM {reader_em:.2f}", file=sys.stderr)
        print("  F1 by depth: " + " ".join(f"{d + 1}:{c.f1_mean:.1f}" for d, c in enumerate(curve)), file=sys.stderr)
        print(f"  at depth {args.depth}: F1 {at.f1_mean:.2f} EM {at.em_mean:.2f}, ECE {ece:.3f}, refused {refused:.1%} within 2 F1 points (min_score {min_score:.3f})", file=sys.stderr)
        print(f"  at min_score {args.min_score}: {entry['at_min_score']}", file=sys.stderr)
        if window:
            print(f"  window (>= 50% refused, <= 2 F1 points lost): {window[0]:.3f}-{window[-1]:.3f}, middle {(window[0] + window[-1]) / 2:.4f}", file=sys.stderr)
        for depth, row in summary.items():
            print(f"  {depth} passages: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), file=sys.stderr)
    out = OUT / (args.out or f"report-{args.precision}.json")
    out.write_text(json.dumps(results, indent=1))
    print(f"wrote {out}", file=sys.stderr)


SWEEPS = {
    "span": [0.25, 0.35, 0.5, 0.7, 1.0],
    "passage": [0.0, 0.25, 0.5, 1.0, 2.0],
    "support": [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0],
    "per_passage": [1, 2, 3, 5, 10, 20],
    "retrieval_weight": [0.0, 0.1, 0.2, 0.3, 0.5, 1.0],
    "no_answer": [0.0, 1.0, 2.0, 3.0, 5.0],
}


def sweep(args: argparse.Namespace) -> None:
    """Each constant varied alone around the defaults, on the tuning questions: F1, refusal, and ECE over the calibration."""
    import dataclasses

    from pipeline.ranking import CONSTANTS, RETRIEVAL_WEIGHT

    questions, _, _ = load()
    its = items(select(questions, args.tune, args.every), args.precision)
    path = OUT / f"sweep-{args.precision}.json"
    results: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for name in args.constants.split(","):
        rows = []
        for value in SWEEPS[name]:
            constants = CONSTANTS if name == "retrieval_weight" else dataclasses.replace(CONSTANTS, **{name: value})
            weight = value if name == "retrieval_weight" else RETRIEVAL_WEIGHT
            run = run_at(its, args.depth, constants, weight)
            refused, _ = best_refusal(run)
            row = {"value": value, "f1": run.f1_mean, "em": run.em_mean, "refused_within_2": refused}
            if name == "no_answer":
                row.update(ece=reliability(run.score, run.em)[0], drop_at_half_refused=_drop_at(run, 0.5))
            rows.append(row)
            print(f"{name}={value}: F1 {run.f1_mean:.2f}, refused {refused:.1%} within 2 F1 points", file=sys.stderr)
            # TEMPERATURE, which replaced the odds multiplier CALIBRATION, is fitted by bench/distinct.py tune.
        results[name] = rows
        path.write_text(json.dumps(results, indent=1))


def plot_reliability(bins: list[tuple[float, float, int]], xlabel: str, title: str, path: Path) -> None:
    """A reliability diagram: each bin's mean score against its share of exact matches, with its count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.8))
    ax.plot([0, 1], [0, 1], color="grey", ls="--")
    ax.plot([b[0] for b in bins], [b[1] for b in bins], "o-")
    for mean, share, n in bins:
        ax.annotate(str(n), (mean, share), fontsize=7, textcoords="offset points", xytext=(4, -10))
    ax.set(xlabel=xlabel, ylabel="share of exact matches", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot(args: argparse.Namespace) -> None:
    """The PNGs of BENCHMARKS.md from the report and sweep JSON files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads((OUT / f"report-{args.precision}.json").read_text())
    held_out = results.get("report") or results["tune"]
    label = f"articles {args.on}, {held_out['questions']} questions" if "report" in results else "tuning questions"
    depths = list(range(1, DEPTH + 1))

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, style in (("tune", ":"), ("report", "-")):
        if name in results:
            ax.plot(depths, results[name]["f1_by_depth"], style, marker="o", ms=3, label=f"this formula ({name})")
    previous = held_out["previous_formula_f1_by_depth"]
    ax.plot([int(d) for d in previous], list(previous.values()), "s--", label="previous formula, w = 0.3")
    reader = held_out["reader_mode"]["f1"]
    ax.axhline(reader, color="grey", label=f"reader mode (gold paragraph) {reader:.1f}")
    ax.axhline(0.9 * reader, color="grey", ls="--", label=f"0.9 x reader mode {0.9 * reader:.1f}")
    ax.set(xlabel="passages read (retriever.top_k)", ylabel="F1", title=f"Open-mode F1 by passages read ({label}, {args.precision})")
    ax.set_xticks([1, 5, 10, 15, 20])
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(REPO / "bench" / "ranking-depth.png", dpi=110)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, style in (("tune", ":"), ("report", "-")):
        if name in results:
            curve = results[name]["refusal_curve"]
            ax.plot([100 * r for _, r, _ in curve], [k for _, _, k in curve], style, marker=".", label=name)
            for t, r, k in curve:
                if name == "report" and round(t * 50) % 5 == 0 and t <= 0.4:
                    ax.annotate(f"{t:g}", (100 * r, k), fontsize=7, textcoords="offset points", xytext=(3, 3))
    at = held_out["at_min_score"]
    ax.plot([100 * at["refused"]], [at["f1_kept"]], "r*", ms=12, label=f"default min_score {held_out['min_score']:g}")
    ax.axhline(held_out["f1_by_depth"][held_out["depth"] - 1] - 2, color="grey", ls="--", label="2 F1 points below answering all")
    ax.axvline(50, color="grey", ls=":")
    ax.set(xlabel="unanswerable questions refused (%)", ylabel="answerable F1 kept", title=f"No answer: refusal against F1 over ask.min_score ({args.precision})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(REPO / "bench" / "ranking-refusal.png", dpi=110)

    plot_reliability(held_out["reliability"], "score (mean over the bin)",
                     f"Reliability, open mode, {held_out['depth']} passages\nECE {held_out['ece']:.3f} ({label})",
                     REPO / "bench" / "ranking-reliability.png")

    sweeps = json.loads((OUT / f"sweep-{args.precision}.json").read_text())
    names = [n for n in (*SWEEPS, "calibration") if n in sweeps]
    columns = 4
    rows_ = -(-len(names) // columns)
    fig, axes = plt.subplots(rows_, columns, figsize=(3.4 * columns, 3.0 * rows_), squeeze=False)
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        rows = sweeps[name]
        values = [r["value"] for r in rows]
        if name == "calibration":
            ax.plot(values, [r["ece"] for r in rows], "o-", color="C2")
            ax.set(xlabel="CALIBRATION (odds x)", ylabel="ECE")
            continue
        ax.plot(values, [r["f1"] for r in rows], "o-", label="F1")
        ax.set_xlabel(name)
        ax.set_ylabel("F1, 20 passages (o)", color="C0")
        twin = ax.twinx()
        twin.plot(values, [100 * r["refused_within_2"] for r in rows], "s--", color="C1", label="refused")
        twin.set_ylabel("% refused at F1 -2 (s)", color="C1", fontsize=8)
    fig.suptitle(f"Each constant varied alone (tuning questions, {args.precision})", fontsize=10)
    fig.tight_layout()
    fig.savefig(REPO / "bench" / "ranking-constants.png", dpi=100)
    print("wrote bench/ranking-{depth,refusal,reliability,constants}.png", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump", help="retrieve and read; results cached in bench/out/ranking/")
    d.add_argument("--articles", default="0-23", help="article indices, e.g. 0-11 or 12-23")
    d.add_argument("--every", type=int, default=1, help="keep every n-th question of those articles")
    d.add_argument("--offset", type=int, default=0, help="... starting from this one (0: the first)")
    d.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    d.add_argument("--runs", default="open,none", help="open (full index), none (index without the question's article)")
    r = sub.add_parser("report", help="rank the dump with pipeline.ranking.rank: figures and plots")
    r.add_argument("--tune", default="0-11", help="articles the constants were chosen on ('' to skip)")
    r.add_argument("--every", type=int, default=3, help="every n-th question of the tuning articles (as dumped)")
    r.add_argument("--on", default=None, help="held-out articles to report on, e.g. 12-23")
    r.add_argument("--on-every", type=int, default=1, help="every n-th question of the held-out articles (as dumped)")
    r.add_argument("--out", default=None, help="result file name (default report-<precision>.json)")
    r.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    r.add_argument("--depth", type=int, default=DEPTH, help="passages read (retriever.top_k) for refusal and calibration")
    r.add_argument("--min-score", type=float, default=None)
    r.add_argument("--retrieval-weight", type=float, default=None)
    w = sub.add_parser("sweep", help="vary each constant alone on the tuning questions")
    w.add_argument("--tune", default="0-11")
    w.add_argument("--every", type=int, default=3)
    w.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    w.add_argument("--depth", type=int, default=DEPTH)
    w.add_argument("--constants", default=",".join(SWEEPS))
    p = sub.add_parser("plot", help="the PNGs of BENCHMARKS.md, from the report and sweep results")
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument("--on", default="12-23")
    args = parser.parse_args()
    if args.command == "plot":
        plot(args)
    elif args.command == "sweep":
        sweep(args)
    elif args.command == "dump":
        dump(args)
    elif args.command == "report":
        if args.min_score is None:
            from pipeline.config import AskConfig

            args.min_score = AskConfig().min_score
        report(args)


if __name__ == "__main__":
    main()
