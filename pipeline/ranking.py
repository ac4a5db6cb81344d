"""Ranking answers across passages and documents: one formula, in `rank()`.

The reader gives each candidate span a raw logit score and a probability normalised over
every span of every passage read for the question, so candidates compare across passages.
`rank()` then:

1. merges the same location seen twice (overlapping passages of a file, or overlapping
   windows of a passage) into one source, keeping its highest probability;
2. merges sources whose answers are the same text after SQuAD normalisation (case,
   punctuation, articles, whitespace) into one answer listing every source, best first;
   the answer's probability P is the sum over its sources;
3. scores each answer  score = P ** (1 - w) * R ** w,  where R is the retrieval score of
   the answer's best source passage divided by the best retrieval score among the passages
   read for the question (R = 1 without retrieval scores) and w is `retrieval_weight`. This
   is log-linear interpolation of reader and retriever (as in BERTserini, Yang et al. 2019):
   with w = 0 the reader alone decides; the score stays in [0, 1];
4. keeps answers with score >= `min_score`. When none passes, the result says that no
   answer was found and carries the best candidates as such.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from store.errors import check_count

from pipeline.answers import Answer
from pipeline.normalize import normalize_answer


@dataclass(frozen=True)
class Source:
    """One place an answer was found."""

    file: str | None
    page: int | None
    passage_id: str
    start: int  # character span of the answer in the passage
    end: int
    context: str  # the passage text around the answer
    context_start: int  # offset of `context` in the passage (the answer is at start - context_start)
    probability: float
    reader_score: float
    retrieval_score: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "page": self.page,
            "passage_id": self.passage_id,
            "start": self.start,
            "end": self.end,
            "context": self.context,
            "probability": self.probability,
            "reader_score": self.reader_score,
            "retrieval_score": self.retrieval_score,
        }


@dataclass(frozen=True)
class RankedAnswer:
    text: str
    score: float  # the ranking score of the module docstring, in [0, 1]
    probability: float  # P: reader probability summed over the sources
    sources: tuple[Source, ...]  # best first

    @property
    def best(self) -> Source:
        return self.sources[0]

    def to_json(self) -> dict[str, Any]:
        """The answer object of `docqa ask --json` (DESIGN.md), plus probability and sources."""
        best = self.best
        return {
            "answer": self.text,
            "score": self.score,
            "probability": self.probability,
            "file": best.file,
            "page": best.page,
            "passage_id": best.passage_id,
            "start": best.start,
            "end": best.end,
            "context": best.context,
            "sources": [s.to_json() for s in self.sources],
        }


@dataclass(frozen=True)
class Ranking:
    question: str
    answers: list[RankedAnswer]  # score >= min_score, best first
    candidates: list[RankedAnswer] = field(default_factory=list)  # the best below min_score, when no answer passed

    @property
    def found(self) -> bool:
        return bool(self.answers)

    def to_json(self, seconds: float | None = None) -> dict[str, Any]:
        """The one answer JSON: `docqa ask --json`, each line of `--batch`, the HTTP API (DESIGN.md).

        "candidates" is present only when no answer passed ask.min_score; "seconds" only when
        the time of this question alone is known (not for the lines of a batch).
        """
        data: dict[str, Any] = {"question": self.question, "found": self.found, "answers": [a.to_json() for a in self.answers]}
        if not self.found:
            data["candidates"] = [a.to_json() for a in self.candidates]
        if seconds is not None:
            data["seconds"] = round(seconds, 3)
        return data


def rank(
    question: str,
    answers: list[Answer],
    *,
    top_k: int,
    retrieval_weight: float = 0.0,
    min_score: float = 0.0,
    context_chars: int = 200,
) -> Ranking:
    """Merge and rank the reader's answers for one question (see the module docstring)."""
    check_count("top_k", top_k)
    if not 0.0 <= retrieval_weight <= 1.0:
        raise ValueError(f"retrieval_weight must be within [0, 1], got {retrieval_weight}")
    best_retrieval = max((a.passage.score for a in answers if a.passage.score is not None), default=None)

    by_location: dict[tuple[Any, ...], Answer] = {}
    for answer in answers:
        key = _location(answer)
        if key not in by_location or answer.probability > by_location[key].probability:
            by_location[key] = answer

    groups: dict[str, list[Answer]] = {}
    for answer in sorted(by_location.values(), key=lambda a: (-a.probability, -a.score)):
        groups.setdefault(normalize_answer(answer.text) or answer.text.strip(), []).append(answer)

    ranked = []
    for members in groups.values():
        probability = sum(a.probability for a in members)
        relevance = _relative(members[0].passage.score, best_retrieval)
        score = probability ** (1 - retrieval_weight) * relevance**retrieval_weight
        sources = tuple(_source(a, context_chars) for a in members)
        ranked.append(RankedAnswer(members[0].text, score, probability, sources))
    ranked.sort(key=lambda r: (-r.score, -r.best.reader_score))
    passing = [r for r in ranked if r.score >= min_score]
    if passing:
        return Ranking(question, passing[:top_k])
    return Ranking(question, [], ranked[:top_k])


def _location(answer: Answer) -> tuple[Any, ...]:
    meta = answer.passage.meta
    offset = meta.get("split_idx_start")
    if meta.get("file_path") is not None and isinstance(offset, int):
        return ("file", meta["file_path"], offset + answer.start, offset + answer.end)
    return ("passage", answer.passage.id, answer.start, answer.end)


def _relative(score: float | None, best: float | None) -> float:
    if score is None or best is None or best <= 0:
        return 1.0
    return max(score, 0.0) / best


def _source(answer: Answer, context_chars: int) -> Source:
    text = answer.passage.content or ""
    room = max(0, context_chars - (answer.end - answer.start)) // 2
    start = max(0, answer.start - room)
    end = min(len(text), answer.end + room)
    # Widen to whole words so the snippet neither starts nor ends mid-word.
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return Source(
        file=answer.file,
        page=answer.page,
        passage_id=answer.passage.id,
        start=answer.start,
        end=answer.end,
        context=text[start:end],
        context_start=start,
        probability=answer.probability,
        reader_score=answer.score,
        retrieval_score=answer.passage.score,
    )
