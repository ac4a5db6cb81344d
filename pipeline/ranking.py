"""Ranking answers across passages and documents: one formula, in `rank()`.

An extractive reader trained on single paragraphs says which span is best *inside* a
passage; its raw scores do not say which passage holds the answer (issue 13: ranked by them,
more passages read gave worse answers). `rank()` gives each candidate span a of passage d an
evidence that compares across passages, sums it over the passages that give the same answer,
makes the answers distinct (issue 21), and turns each answer's share of all evidence, against
"no answer here", into the probability that it is right:

    pi_d    = softmax over the passages read of  retrieval_weight * b_d + PASSAGE * (Z_d - mean Z) / sd Z
    w(a, d) = pi_d * p(a|d) ** SPAN * exp(SUPPORT * o(a, d))
    S(A)    = sum of w(a, d) over the places of A: the spans a, in any passage d, whose text
              normalises to A (a one-word A: its best place, others where o(a, d) >= REPEAT_SUPPORT), less the
              places that overlap a better answer's (OVERLAP "ignore": other cuts of A's place)
    share   = S(A) / W,  W = sum of w over every place but those cuts + NO_ANSWER  (the shares sum to <= 1)
    P(A)    = share(A) ** T(A) / (sum over answers B of share(B) ** T(B) + NONE_WEIGHT * rest ** T),
              rest = 1 - sum of the shares, T(A) = TOP_TEMPERATURE for the answer of most evidence,
              TEMPERATURE for the others

`score` is P(A): the answers of a question are exclusive events (one of them is the answer,
or none is), their scores sum to at most 1, and 1 - sum is the probability of "none of these".

- p(a|d) = exp(score - passage_log_norm): the reader's own probability of the span within its
  passage, the quantity every extractive QA model is trained to output; the exponent SPAN < 1
  tempers it, since the reader is as sure of a span in a wrong passage as in the right one.
- b_d: the passage's retrieval (BM25) score: each point below the best passage read costs a
  factor exp(-retrieval_weight) (BERTserini's interpolation of retriever and reader, in log
  space). A passage without a retrieval score (None) is not weighed by it.
- Z_d: the passage's log-normaliser (logsumexp of all its span scores), the reader's evidence
  for the passage as a whole, standardised over the passages read, so that neither an offset
  nor the scale of the model's logits changes its weight (no weight with one passage).
- o(a, d) in [0, 1], lexical support: the share of the question's words (stemmed, stopwords
  dropped) found in the sentence around the span, the span itself left out, each word weighted
  by its inverse document frequency among the TERM_PASSAGES best passages retrieved. The
  reader finds a plausible span of the right type in every passage; the one whose sentence
  restates the question answers it. IDF among the retrieved passages weighs the words that
  tell them apart (a topic word they all hold weighs little); taking it over a fixed number of
  them (`word_counts`, however many are read) means that a passage read later changes the
  answer only by what it says, not by how much each question word counts.
- The sum over passages is the agreement of several passages on one answer; one location seen
  through two overlapping passages counts once (its best w). Only the CANDIDATES_PER_PASSAGE
  best spans of each passage (by p(a|d)) take part, so that shares do not depend on how many
  candidates the reader returned.
- Distinct answers (`_distinct`): the reader proposes many cuts of one place ("October 14,
  1998", "14, 1998", "1998", ...). Answers are taken in order of S; a place that shares a
  character of its file with a better answer's place (in one passage, or the same characters
  through overlapping passages: file offsets are split_idx_start + start) is that answer cut
  again, and OVERLAP "ignore" treats it as never proposed: its evidence goes neither to that
  answer nor to "none of these" (it leaves W). Measured on 311 tuning questions against
  "merge" (its evidence added to the answer it overlaps) and "drop" (its evidence to no
  answer): "merge" lost 2.9 top-1 F1 (a long span has many sub-spans, so merging favours long
  spans over the right short one: `two` over `three`, `Elway` over `linebacker`); "drop" and
  "ignore" keep the top answer of the ranking before distinct answers (top-1 F1 the same), and
  "ignore" is the one that stays calibrated ("drop" counts every recut as evidence against
  the answer: ECE of the top answer 0.17 against 0.08). BENCHMARKS.md, "Distinct answers".
- A one-word answer ("14", "1998", "Paris") found in another place is the same answer only
  where that place's sentence restates at least REPEAT_SUPPORT (0.4) of the question's
  weighted words: a number repeats by chance in unrelated sentences ("14" of "14 May 1872"
  is not the "14" of "October 14"). Such a place is left out (its evidence stays in W: part
  of "none of these"). Texts of two words or more agree wherever they are found.
- NO_ANSWER is the evidence that none of the passages answers the question, on the scale of
  the evidence sum (which is at most 1 without lexical support): an answer stands out only when
  passages agree on it or its sentence restates the question.
- The three constants of the last line turn shares into probabilities, keeping them a
  distribution over the answers and "none of these"; they are fitted together by maximum
  likelihood of which listed answer is an exact match, or none (SQuAD, tuning articles, open
  mode, 20 passages: `bench/distinct.py calibrate`). TEMPERATURE < 1 flattens the shares.
  The answer of most evidence gets its own, smaller TOP_TEMPERATURE: it is the largest of many
  noisy evidence sums, so a large share overstates how often it is right (the winner's curse)
  and a small one understates it; with one temperature for all, the first answer was
  overconfident above a score of 0.4 and underconfident below 0.2 while the others were
  calibrated. TOP_TEMPERATURE <= TEMPERATURE keeps it first: share ** TOP_TEMPERATURE >=
  share ** TEMPERATURE >= the others' (shares <= 1). NONE_WEIGHT weighs "none of these".

Answers whose score is below `min_score` are not given; when none passes, the result says that
no answer was found and carries the best candidates as such. Each constant is chosen from a
curve in BENCHMARKS.md ("Ranking answers across passages", "Distinct answers"), which also
says why they transfer to other extractive models and which ones to refit for a new model
(the last three).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ingest.converted import PAGE_BREAK
from store.errors import check_count

from pipeline.answers import Answer
from pipeline.normalize import normalize_answer

if TYPE_CHECKING:
    from haystack import Document

RETRIEVAL_WEIGHT = 0.2  # per BM25 point; the default of ask.retrieval_weight


@dataclass(frozen=True)
class Constants:
    """The formula's constants (module docstring), each chosen from a curve in BENCHMARKS.md."""

    span: float = 0.5  # SPAN: exponent of the within-passage probability
    passage: float = 0.5  # PASSAGE: weight of the standardised passage log-normaliser
    support: float = 5.0  # SUPPORT: weight of the lexical support o in [0, 1]
    # The last step, from shares to P(exact match): fitted together (bench/distinct.py calibrate).
    temperature: float = 0.89  # TEMPERATURE: exponent of the shares
    top_temperature: float = 0.28  # TOP_TEMPERATURE: the same for the answer of most evidence (<= TEMPERATURE)
    none_weight: float = 3.67  # NONE_WEIGHT: the factor of "none of these" against the answers
    per_passage: int = 10  # CANDIDATES_PER_PASSAGE
    no_answer: float = 2.0  # NO_ANSWER: the evidence that none of the passages answers
    overlap: str = "ignore"  # OVERLAP: what a place overlapping a better answer's does: "ignore", "merge" or "drop"
    repeat_support: float = 0.4  # REPEAT_SUPPORT: lexical support a one-word answer's repeat needs to join it

    def __post_init__(self) -> None:
        if self.span <= 0 or self.passage < 0 or self.support < 0 or self.temperature <= 0 or self.no_answer < 0:
            raise ValueError(f"span and temperature must be > 0, passage, support and no_answer >= 0, got {self}")
        if not 0 < self.top_temperature <= self.temperature or self.none_weight < 0:
            raise ValueError(f"top_temperature must be within (0, temperature] (it keeps the first answer first), none_weight >= 0, got {self}")
        if self.overlap not in ("merge", "drop", "ignore"):
            raise ValueError(f"overlap must be 'merge', 'drop' or 'ignore', got {self.overlap!r}")
        if self.per_passage < 1:
            raise ValueError(f"per_passage must be >= 1, got {self.per_passage}")


CONSTANTS = Constants()
CANDIDATES_PER_PASSAGE = CONSTANTS.per_passage


TERM_PASSAGES = 20  # the best passages retrieved whose words weigh the question's words


@dataclass(frozen=True)
class WordCounts:
    """How many passages the question's words were counted in, and how many of them hold each word."""

    passages: int
    holding: Mapping[str, int]  # question_words() -> passages holding it (missing: none)


def question_words(question: str) -> list[str]:
    """The stemmed words of `question` the lexical support weighs: its non-stopwords (or all its words)."""
    from store.terms import terms

    return list(dict.fromkeys(terms(question, drop_stopwords=True) or terms(question)))


def word_counts(question: str, passages: Sequence[Document]) -> WordCounts:
    """The counts of `question`'s words in the first TERM_PASSAGES of `passages` (best first)."""
    counted = [set(_stemmed_words(p.content or "")[1]) for p in passages[:TERM_PASSAGES]]
    return WordCounts(len(counted), {w: sum(w in terms for terms in counted) for w in question_words(question)})


@dataclass(frozen=True)
class Source:
    """One place an answer was found."""

    file: str | None
    page: int | None  # the page of the answer's first character (None for a file without pages)
    pages: list[int] | None  # every page the answer lies on, first to last: [2], or [2, 3] across a page break
    passage_id: str
    start: int  # character span of the answer in the passage text
    end: int
    context: str  # the passage text around the answer, page breaks (form feeds) as spaces
    context_start: int  # offset of `context` in the passage (the answer is at start - context_start)
    reader_score: float  # the reader's raw score of the span (start + end logit): not a probability
    retrieval_score: float | None  # the passage's BM25 score; None without retrieval

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "page": self.page,
            "pages": self.pages,
            "passage_id": self.passage_id,
            "start": self.start,
            "end": self.end,
            "context": self.context,
            "reader_score": self.reader_score,
            "retrieval_score": self.retrieval_score,
        }


@dataclass(frozen=True)
class RankedAnswer:
    text: str
    score: float  # the estimated probability that the answer is right; a question's scores sum to <= 1
    share: float  # its share of the question's evidence, before calibration (for benchmarks, not shown)
    sources: tuple[Source, ...]  # best first

    @property
    def best(self) -> Source:
        return self.sources[0]

    def to_json(self) -> dict[str, Any]:
        """The answer object of `docqa ask --json` (DESIGN.md), plus pages and sources.

        `score` is the one probability; page breaks in the answer's text are shown as spaces
        (start and end index the passage text, which holds them as form feeds).
        """
        best = self.best
        return {
            "answer": self.text.replace(PAGE_BREAK, " "),
            "score": self.score,
            "file": best.file,
            "page": best.page,
            "pages": best.pages,
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
    answers: Sequence[Answer],
    *,
    top_k: int,
    retrieval_weight: float = RETRIEVAL_WEIGHT,
    min_score: float = 0.0,
    context_chars: int = 200,
    constants: Constants = CONSTANTS,
    counts: WordCounts | None = None,
) -> Ranking:
    """Merge and rank the reader's answers for one question, from every passage read for it.

    A score estimates the probability that the answer is right (an exact match of what a
    person would answer, as measured on held-out SQuAD): the formula of the module docstring.
    `answers` are the reader's candidates with their passages (Document.score: the retrieval
    score, None without retrieval); give every passage read, with at least
    `constants.per_passage` candidates of each where it has that many. `counts`: word_counts()
    of the passages retrieved for the question; None takes them from the answers' passages,
    best retrieval score first.
    """
    check_count("top_k", top_k)
    if retrieval_weight < 0:
        raise ValueError(f"retrieval_weight must be >= 0, got {retrieval_weight}")
    if not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score must be within [0, 1], got {min_score}")
    spans = _best_per_passage(answers, constants.per_passage)
    if not spans:
        return Ranking(question, [], [])
    passage_log_weight = _passage_evidence(spans, retrieval_weight, constants.passage)
    if counts is None:
        read = {a.passage.id: a.passage for a in answers}.values()
        counts = word_counts(question, sorted(read, key=lambda d: math.inf if d.score is None else -d.score))  # unscored last
    support = _LexicalSupport(question, {a.passage.id: a.passage.content or "" for a in spans}, counts)

    by_location: dict[tuple[Any, ...], tuple[float, Answer]] = {}
    for answer in spans:
        within = min(0.0, answer.score - answer.passage_log_norm)  # log p(a|d) <= 0
        log_w = constants.span * within + passage_log_weight[answer.passage.id] + constants.support * support(answer)
        key = _location(answer)
        if key not in by_location or log_w > by_location[key][0]:
            by_location[key] = (log_w, answer)

    # Evidence relative to the largest term, so that nothing overflows.
    log_null = math.log(constants.no_answer) if constants.no_answer > 0 else -math.inf
    top = max(log_null, max(log_w for log_w, _ in by_location.values()))
    places = sorted(((math.exp(log_w - top), a) for log_w, a in by_location.values()), key=lambda x: (-x[0], -x[1].score))
    total = sum(w for w, _ in places) + math.exp(log_null - top)
    groups, ignored = _distinct(places, constants, support)
    total -= ignored

    # Each answer's share of the evidence, and the rest's, become exclusive probabilities.
    rest = max(0.0, total - sum(g.evidence for g in groups))
    shares = [g.evidence / total for g in groups]
    scored = [(p, share, [a for _, a in g.places]) for p, share, g in zip(probabilities(shares, rest / total, constants), shares, groups)]
    scored.sort(key=lambda s: (-s[0], -s[2][0].score))
    passing = [s for s in scored if s[0] >= min_score]

    def ranked(chosen: list[tuple[float, float, list[Answer]]]) -> list[RankedAnswer]:
        return [RankedAnswer(m[0].text, score, share, tuple(_source(a, context_chars) for a in m)) for score, share, m in chosen[:top_k]]

    if passing:
        return Ranking(question, ranked(passing))
    return Ranking(question, [], ranked(scored))


def probabilities(shares: Sequence[float], rest: float, constants: Constants = CONSTANTS) -> list[float]:
    """P(A) = share(A) ** T(A) / (sum over answers B of share(B) ** T(B) + NONE_WEIGHT * rest ** T):
    the answers' exclusive probabilities from their shares of the evidence and the rest's.

    T(A) is TOP_TEMPERATURE for the largest share, wherever it is (rank() hands the answers in
    their order before the cuts, and with OVERLAP "merge" a later one can gain a cut's evidence
    and pass the first), TEMPERATURE for the others.
    """
    first = max(range(len(shares)), key=shares.__getitem__, default=0)
    tempered = [s ** (constants.top_temperature if n == first else constants.temperature) for n, s in enumerate(shares)]
    norm = sum(tempered) + constants.none_weight * rest**constants.temperature
    return [t / norm for t in tempered]


@dataclass
class _Group:
    """One answer: its places (evidence, span), best first, and the evidence of the places merged into it."""

    places: list[tuple[float, Answer]]
    merged: float = 0.0

    @property
    def evidence(self) -> float:
        return sum(w for w, _ in self.places) + self.merged


def _distinct(places: list[tuple[float, Answer]], constants: Constants, support: _LexicalSupport) -> tuple[list[_Group], float]:
    """The distinct answers of a question's places (evidence, span; best evidence first), best first.

    First agreement: the places whose texts are equal (SQuAD-normalised) are one answer, their
    evidence added, unless the text is one word: one word repeats by chance ("14" of an
    unrelated date), so a place of a one-word answer joins its best place only when its
    sentence restates at least REPEAT_SUPPORT of the question (lexical support), and is left
    out otherwise. Two cuts of equal text at one place ("the X" and "X") are one source, the
    better cut, holding both evidences (counting it once cost 0.9 top-1 F1 on the tuning
    questions: BENCHMARKS.md, "Distinct answers"). Then distinctness, in order of evidence: a place that overlaps a better
    answer's place (the same characters of one file, through one passage or two overlapping
    ones) is that answer, however its span is cut: its evidence is left out of the question's
    (OVERLAP "ignore", returned as the second value, for the caller to take out of the
    normaliser), goes to it ("merge") or to no answer ("drop"); an answer left without places
    is no answer. A one-word repeat left out stays in the normaliser: it is a place of its own,
    part of "none of these".
    """
    by_text: dict[str, _Group] = {}
    for w, answer in places:
        key = normalize_answer(answer.text) or answer.text.strip()
        group = by_text.get(key)
        if group is None:
            by_text[key] = _Group([(w, answer)])
        elif " " in key or support(answer) >= constants.repeat_support:
            group.places.append((w, answer))
    taken: dict[tuple[Any, ...], list[tuple[int, int, _Group]]] = {}  # container -> spans of the answers kept
    kept = []
    ignored = 0.0  # OVERLAP "ignore": evidence of cuts taken out of the normaliser as well
    for group in sorted(by_text.values(), key=lambda g: -g.evidence):
        free: list[tuple[float, Answer]] = []
        own: dict[tuple[Any, ...], list[tuple[int, int]]] = {}  # spans of this answer's places kept so far
        for w, answer in group.places:
            container, first, last = _container(answer)
            better = next((g for s, e, g in taken.get(container, ()) if s < last and first < e), None)
            if better is None and any(s < last and first < e for s, e in own.get(container, ())):
                # The same text cut again at one place ("the X" and "X"): one place to show, its
                # evidence kept (counted once, it cost 0.9 top-1 F1 on the tuning questions).
                group.merged += w
                continue
            if better is None:
                free.append((w, answer))
                own.setdefault(container, []).append((first, last))
            elif constants.overlap == "merge":
                better.merged += w
            elif constants.overlap == "ignore":
                ignored += w
        if free:
            group.places = free
            kept.append(group)
            for _, answer in free:
                container, first, last = _container(answer)
                taken.setdefault(container, []).append((first, last, group))
    return kept, ignored


def _best_per_passage(answers: Sequence[Answer], n: int) -> list[Answer]:
    """The n best answers of each passage by within-passage probability (raw score order)."""
    per_passage: dict[str, list[Answer]] = {}
    for answer in answers:
        per_passage.setdefault(answer.passage.id, []).append(answer)
    kept = []
    for members in per_passage.values():
        kept.extend(sorted(members, key=lambda a: (-(a.score - a.passage_log_norm), -a.score))[:n])
    return kept


def _passage_evidence(spans: list[Answer], retrieval_weight: float, passage_weight: float) -> dict[str, float]:
    """log pi_d: exp(retrieval_weight * (b_d - b_max) + passage_weight * standardised Z_d), normalised over the passages."""
    passages = {a.passage.id: a for a in spans}
    retrieval = {pid: a.passage.score for pid, a in passages.items()}
    scored = [s for s in retrieval.values() if s is not None]
    best = max(scored, default=0.0)
    norms = {pid: a.passage_log_norm for pid, a in passages.items()}
    mean = sum(norms.values()) / len(norms)
    sd = math.sqrt(sum((z - mean) ** 2 for z in norms.values()) / len(norms))
    out = {}
    for pid in passages:
        b = retrieval[pid]
        log_w = retrieval_weight * (b - best) if b is not None else 0.0
        if sd > 0:
            log_w += passage_weight * (norms[pid] - mean) / sd
        out[pid] = log_w
    top = max(out.values())
    log_sum = top + math.log(sum(math.exp(w - top) for w in out.values()))
    return {pid: w - log_sum for pid, w in out.items()}  # normalised: the weights sum to 1


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W_]+")  # a word as the index's unicode61 tokenizer sees one (store.terms)


class _LexicalSupport:
    """o(a, d): the IDF-weighted share of the question's words in the sentence around a span.

    IDF is log(1 + N / (1 + df)), N passages counted (`counts`, word_counts()), df of them
    holding the word. Words are folded and stemmed as the index stems them (store.terms);
    each passage is tokenised once, with offsets.
    """

    def __init__(self, question: str, passages: dict[str, str], counts: WordCounts) -> None:
        wanted = question_words(question)
        self._words = {pid: _stemmed_words(text) for pid, text in passages.items()}
        self._sentences = {pid: [0] + [m.end() for m in _SENTENCE_END.finditer(text)] for pid, text in passages.items()}
        n = counts.passages
        self._idf = {t: math.log(1 + n / (1 + counts.holding.get(t, 0))) for t in wanted}
        self._total = sum(self._idf.values())

    def __call__(self, answer: Answer) -> float:
        if self._total <= 0:
            return 0.0
        offsets, terms = self._words[answer.passage.id]
        starts = self._sentences[answer.passage.id]
        first = starts[bisect.bisect_right(starts, answer.start) - 1]
        following = bisect.bisect_left(starts, answer.end)
        last = starts[following] if following < len(starts) else math.inf
        before = terms[bisect.bisect_left(offsets, first) : bisect.bisect_left(offsets, answer.start)]
        after = terms[bisect.bisect_left(offsets, answer.end) : bisect.bisect_left(offsets, last)]
        around = set(before) | set(after)
        return sum(w for t, w in self._idf.items() if t in around) / self._total


@functools.lru_cache(maxsize=4096)
def _stemmed_words(text: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Start offset and term of each word of `text`, folded and stemmed as store.terms does.

    Words are found in the text itself (so offsets are the text's) and folded one by one; a
    word that folding splits ("2½" -> "21⁄2") gives all its parts at its offset. Cached: a
    passage retrieved for many questions is stemmed once.
    """
    from store.terms import fold, terms

    found = []
    for m in _WORD.finditer(text):
        word = m.group()
        for part in [word.lower()] if word.isascii() else _WORD.findall(fold(word)):
            found.append((m.start(), part))
    return tuple(start for start, _ in found), tuple(terms(" ".join(part for _, part in found)))


def _container(answer: Answer) -> tuple[tuple[Any, ...], int, int]:
    """What holds the answer's characters (its file, or its passage when the file is not known) and their span in it."""
    meta = answer.passage.meta
    offset = meta.get("split_idx_start")
    if meta.get("file_path") is not None and isinstance(offset, int):
        return ("file", meta["file_path"]), offset + answer.start, offset + answer.end
    return ("passage", answer.passage.id), answer.start, answer.end


def _location(answer: Answer) -> tuple[Any, ...]:
    container, first, last = _container(answer)
    return (*container, first, last)


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
        pages=answer.pages,
        passage_id=answer.passage.id,
        start=answer.start,
        end=answer.end,
        context=text[start:end].replace(PAGE_BREAK, " "),  # one character for one: offsets still hold
        context_start=start,
        reader_score=answer.score,
        retrieval_score=answer.passage.score,
    )
