"""Evaluation: SQuAD v1.1's official metrics, and docqa's reader, retrieval and end-to-end modes.

The metrics are those of SQuAD v1.1's official evaluation script (evaluate-v1.1.py):
answers are normalised (pipeline.normalize), exact match and token-level F1 take the
maximum over the gold answers, and both are averaged over all questions and multiplied by 100.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store import haystack_compat  # noqa: F401  (Haystack without torch)
from haystack import Document

from ingest.options import IngestOptions
from store.document_store import SQLiteDocumentStore
from store.errors import DocqaError

from pipeline.checks import QuestionError
from pipeline.config import Config
from pipeline.normalize import normalize_answer
from pipeline.ranking import Ranking, word_counts

if TYPE_CHECKING:
    from pipeline.qa import QA
    from pipeline.reader import Reader
    from pipeline.reader.ray_pool import RayReader

RECALL_AT = (1, 5, 20)


class EvaluationError(DocqaError):
    """The evaluation file cannot be read or is not in the expected format."""


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    answers: list[str]
    context: str
    paragraph: int  # index of its paragraph in the file


def load_squad(path: str | Path, limit: int | None = None) -> tuple[list[SquadQuestion], list[str]]:
    """Questions (in file order, at most `limit`) and every paragraph of a SQuAD v1.1 file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        questions, paragraphs = [], []
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                paragraphs.append(paragraph["context"])
                for qa in paragraph["qas"]:
                    answers = [a["text"] for a in qa["answers"]]
                    questions.append(SquadQuestion(qa["id"], qa["question"], answers, paragraph["context"], len(paragraphs) - 1))
    except OSError as exc:
        raise EvaluationError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvaluationError(f"{path} is not JSON: {exc}") from None
    except (KeyError, TypeError) as exc:
        raise EvaluationError(f"{path} is not in SQuAD v1.1 format (data/paragraphs/qas/answers): missing {exc}") from None
    if limit is not None:
        questions = questions[:limit]
    return questions, paragraphs


def exact_match(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def f1(prediction: str, truth: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def squad_scores(predictions: dict[str, str], questions: Sequence[SquadQuestion]) -> dict[str, float]:
    """Exact match and F1 (x100) as the official script computes them; unanswered questions score 0."""
    em = total_f1 = 0.0
    for q in questions:
        if q.id not in predictions:
            continue
        em += max(exact_match(predictions[q.id], a) for a in q.answers)
        total_f1 += max(f1(predictions[q.id], a) for a in q.answers)
    n = len(questions)
    return {"exact_match": 100.0 * em / n if n else 0.0, "f1": 100.0 * total_f1 / n if n else 0.0}


def paragraph_name(index: int) -> str:
    """The file path under which index_paragraphs stores paragraph `index`."""
    return f"squad:{index}"


def index_paragraphs(paragraphs: Sequence[str], db: Path, options: IngestOptions) -> SQLiteDocumentStore:
    """A fresh store with every paragraph indexed as its own document, named paragraph_name(index)."""
    from ingest.indexer import index_text

    store = SQLiteDocumentStore(db)
    with store.bulk():
        for i, text in enumerate(paragraphs):
            index_text(store, paragraph_name(i), text, options)
    return store


def retrieval_recall(
    qa: QA, questions: Sequence[SquadQuestion], paragraphs: int, show_progress: bool = False
) -> tuple[dict[str, float], list[list[Document]], float]:
    """recall@k (a passage of the question's own paragraph in the top k) and median latency in ms.

    Also returns the passages retrieved for each question (max(RECALL_AT) or retriever.top_k of them, whichever is more), for reading.
    """
    from tqdm import tqdm

    options = qa.options(retrieve_k=max(max(RECALL_AT), qa.config.retriever.top_k))
    paragraph_of = {paragraph_name(i): i for i in range(paragraphs)}
    hits = {k: 0 for k in RECALL_AT}
    latencies, retrieved = [], []
    for q in tqdm(questions, desc="retrieving", unit="question", disable=not show_progress):
        started = time.perf_counter()
        docs = qa.retrieve(q.question, options)
        latencies.append(time.perf_counter() - started)
        retrieved.append(docs)
        found = [paragraph_of[d.meta["file_path"]] for d in docs]
        for k in RECALL_AT:
            hits[k] += q.paragraph in found[:k]
    n = max(len(questions), 1)
    return {f"recall@{k}": hits[k] / n for k in RECALL_AT}, retrieved, 1000 * statistics.median(latencies or [0.0])


def evaluate_squad(
    path: str | Path,
    mode: str,
    config: Config,
    limit: int | None = None,
    predictions_path: str | Path | None = None,
    show_progress: bool = False,
    reader: Reader | RayReader | None = None,
) -> dict[str, Any]:
    """`docqa eval squad`: the JSON of DESIGN.md for `mode` reader, retrieval or open.

    reader measures the reader alone (SQuAD's protocol: its top span in the question's own
    paragraph); retrieval and open go through QA, as `docqa ask` does. `reader`: another
    reader than config.reader's (a RayReader reads on a Ray cluster).
    """
    if mode not in ("reader", "retrieval", "open"):
        raise EvaluationError(f"mode must be reader, retrieval or open, got {mode!r}")
    questions, paragraphs = load_squad(path, limit)
    started = time.perf_counter()
    result: dict[str, Any] = {"questions": len(questions)}
    predictions: dict[str, str] = {}
    if mode == "reader":
        from pipeline.reader import Reader

        reader = reader if reader is not None else Reader(config.reader)
        read = reader.read_batch([q.question for q in questions], [[Document(content=q.context)] for q in questions], top_k=1, show_progress=show_progress)
        predictions = {q.id: (answers[0].text if answers else "") for q, answers in zip(questions, read)}
        result.update(squad_scores(predictions, questions))
    else:
        from tqdm import tqdm

        from pipeline.qa import QA

        with tempfile.TemporaryDirectory(prefix="docqa-eval-") as tmp:
            store = index_paragraphs(paragraphs, Path(tmp) / "squad.db", config.ingest)
            qa = QA(config, store=store, reader=reader)
            recall, retrieved, latency = retrieval_recall(qa, questions, len(paragraphs), show_progress)
            result.update(recall)
            result["median_retrieval_ms"] = round(latency, 3)
            if mode == "open":
                depth = config.retriever.top_k
                passages = [docs[:depth] for docs in retrieved]
                qa.check_questions([q.question for q in questions])
                read = qa.read([q.question for q in questions], passages, top_k=1, depth=depth, show_progress=show_progress)
                # The ranking of the candidates of the top d passages is the answer docqa gives
                # when it reads d passages (the reader takes each passage's best evenly), so one
                # reading gives the whole curve over retrieve_k; d = 1 is the top-1-passage baseline.
                # The words are weighed by the passages retrieved, as QA.retrieve gives them.
                counts = [word_counts(q.question, docs) for q, docs in zip(questions, retrieved)]
                by_depth = {}
                # retriever.top_k rankings per question: minutes on the public half, so they show progress too.
                for d in tqdm(range(1, depth + 1), desc="ranking at each depth", unit="depth", disable=not show_progress):
                    top = [{p.id for p in docs[:d]} for docs in passages]
                    ranked = [
                        qa.rank(q.question, [a for a in answers if a.passage.id in ids], top_k=1, counts=c)
                        for q, answers, ids, c in zip(questions, read, top, counts)
                    ]
                    by_depth[d] = {q.id: _top_text(r) for q, r in zip(questions, ranked)}
                predictions = by_depth[depth]
                result.update(squad_scores(predictions, questions))
                result["f1_top1_passage"] = round(squad_scores(by_depth[1], questions)["f1"], 3)
                result["f1_by_retrieve_k"] = {str(d): round(squad_scores(p, questions)["f1"], 3) for d, p in by_depth.items()}
            store.close()
    seconds = time.perf_counter() - started
    result["seconds"] = round(seconds, 3)
    result["questions_per_second"] = round(len(questions) / seconds, 3) if seconds > 0 else None
    if predictions_path is not None and predictions:
        Path(predictions_path).write_text(json.dumps(predictions, ensure_ascii=False, indent=1), encoding="utf-8")
    return result


def _top_text(ranking: Ranking) -> str:
    answers = ranking.answers or ranking.candidates
    return answers[0].text if answers else ""


@dataclass(frozen=True)
class QAItem:
    question: str
    answers: list[str]
    file: str | None
    line: int  # in the question set, for error messages


def load_qa(path: str | Path) -> list[QAItem]:
    """A question set: JSONL lines {"question": str, "answers": [str, ...], "file": optional str}."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvaluationError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise EvaluationError(f"{path} is not UTF-8 text") from None
    items = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{path} line {number} is not valid JSON: {exc.msg}") from None
        fields = record if isinstance(record, dict) else {}
        question, answers, file = fields.get("question"), fields.get("answers"), fields.get("file")
        if not isinstance(question, str):  # whether it can be asked is QA's rule, checked by evaluate_qa
            raise EvaluationError(f'{path} line {number}: "question" must be a non-empty string')
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise EvaluationError(f'{path} line {number}: "answers" must be a non-empty list of strings')
        if file is not None and not isinstance(file, str):
            raise EvaluationError(f'{path} line {number}: "file" must be a string')
        items.append(QAItem(question, answers, file, number))
    if not items:
        raise EvaluationError(f"{path} holds no questions")
    return items


def _contains_answer(passage: str, answers: list[str]) -> bool:
    text = f" {normalize_answer(passage)} "
    return any(f" {normalize_answer(a)} " in text for a in answers if normalize_answer(a))


def _same_file(indexed: str | None, wanted: str) -> bool:
    if indexed is None:
        return False
    return Path(indexed) == Path(wanted).resolve() or Path(indexed).as_posix().endswith("/" + Path(wanted).as_posix().lstrip("./"))


def evaluate_qa(path: str | Path, qa: QA, predictions_path: str | Path | None = None, show_progress: bool = False) -> dict[str, Any]:
    """`docqa eval qa`: a question set against the current index.

    exact_match/f1: the top answer against the gold answers (SQuAD's metrics);
    answer_recall@k: a retrieved passage contains a gold answer (normalised text);
    file_recall@k (questions with "file"): a retrieved passage comes from that file.
    k is retriever.top_k, the passages the reader reads.
    """
    items = load_qa(path)
    k = qa.config.retriever.top_k
    started = time.perf_counter()
    try:
        qa.check_questions([item.question for item in items])
    except QuestionError as exc:
        raise EvaluationError(f"{path} line {items[exc.index or 0].line}: {exc}") from None
    qa.check_not_empty()
    options = qa.options()
    retrieved = [qa.retrieve(item.question, options) for item in items]
    # The passages just retrieved are the ones read (the first k): no second retrieval.
    rankings = qa.answer([item.question for item in items], retrieved, top_k=1, show_progress=show_progress, retrieve_k=k)
    retrieved = [docs[:k] for docs in retrieved]
    predictions = [_top_text(r) for r in rankings]
    seconds = time.perf_counter() - started
    n = len(items)
    result: dict[str, Any] = {
        "questions": n,
        "exact_match": 100.0 * sum(max(exact_match(p, a) for a in i.answers) for p, i in zip(predictions, items)) / n,
        "f1": 100.0 * sum(max(f1(p, a) for a in i.answers) for p, i in zip(predictions, items)) / n,
        f"answer_recall@{k}": sum(any(_contains_answer(d.content or "", i.answers) for d in docs) for docs, i in zip(retrieved, items)) / n,
    }
    with_file = [(docs, i.file) for docs, i in zip(retrieved, items) if i.file]
    if with_file:
        hits = sum(any(_same_file(d.meta.get("file_path"), file) for d in docs) for docs, file in with_file)
        result[f"file_recall@{k}"] = hits / len(with_file)
    result["seconds"] = round(seconds, 3)
    result["questions_per_second"] = round(n / seconds, 3) if seconds > 0 else None
    if predictions_path is not None:
        lines = [json.dumps({"question": i.question, "prediction": p}, ensure_ascii=False) for i, p in zip(items, predictions)]
        Path(predictions_path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return result
