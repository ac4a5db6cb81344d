"""The reader: many questions, each with its passages, read through the model in batches.

`read_batch` is the real path and `read` is `read_batch` of one question. The (question,
passage) pairs of all questions are flattened into one stream (DrQA's process_batch),
cut into windows, sorted by length and packed into token-budgeted batches with dynamic
padding; the n best spans of each window are kept, mapped to characters and widened to
whole words (spans.py), and put back with their question. Pairs are processed in chunks, so memory
holds one chunk's windows and the candidates, never every window's tensors.

`Reader.timings` sums the seconds of each stage (tokenize, model, spans, answers) over its
calls, for benchmarks that say where the time goes (a few clock reads per batch).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from store.errors import check_count

from pipeline.answers import Answer
from pipeline.config import ReaderConfig
from pipeline.reader.decode import best_spans
from pipeline.reader.features import Window, batch_tokens, make_windows, pack, truncate_questions
from pipeline.reader.loading import LoadedModel, load
from pipeline.reader.spans import PassageWords, char_span
from pipeline.reader.transfer import HostCopy, to_device, to_host

if TYPE_CHECKING:
    from haystack import Document

logger = logging.getLogger(__name__)

# (question, passage) pairs tokenized and read at a time: enough windows for well-filled
# batches, few enough that their encodings stay small.
_CHUNK_PAIRS = 512


@dataclass(frozen=True)
class _Candidate:
    pair: int
    start: int  # character offsets in the passage, widened to whole words
    end: int
    score: float  # raw start+end logit sum


@dataclass(frozen=True)
class _Launched:
    """A batch whose forward pass is queued: its windows, their passages, and its spans on their way back."""

    windows: list[Window]
    texts: dict[int, str]
    words: PassageWords
    spans: HostCopy  # scores, starts, ends, log_norm


class Reader:
    """Extracts answer spans with a SQuAD-trained extractive QA model (see ReaderConfig).

    `pinned_transfers` and `overlap` are GPU-path switches (pipeline/reader/transfer.py), off
    by default: inputs through pinned memory, and the next batch launched before the current
    one's spans are mapped to characters. Answers are the same either way.
    """

    def __init__(self, config: ReaderConfig | None = None, *, pinned_transfers: bool = False, overlap: bool = False) -> None:
        self.config = config if config is not None else ReaderConfig()
        self._loaded: LoadedModel | None = None
        self.pinned_transfers = pinned_transfers
        self.overlap = overlap
        self.timings: dict[str, float] = defaultdict(float)  # seconds per stage, summed over calls

    def warm_up(self) -> None:
        """Load the model and tokenizer (once)."""
        if self._loaded is None:
            self._loaded = load(self.config.model, self.config.device, self.config.precision)

    def read(self, question: str, passages: Sequence[Document], top_k: int | None = None) -> list[Answer]:
        return self.read_batch([question], [passages], top_k=top_k)[0]

    def read_batch(
        self,
        questions: Sequence[str],
        passages: Sequence[Sequence[Document]],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[list[Answer]]:
        """Answers for each question from its own passages, best first, at most top_k each."""
        if len(questions) != len(passages):
            raise ValueError(f"read_batch needs one list of passages per question: {len(questions)} questions, {len(passages)} lists")
        top_k = check_count("top_k", self.config.top_k if top_k is None else top_k)
        pairs = [(q, doc) for q, docs in enumerate(passages) for doc in docs if doc.content]
        if not pairs:
            return [[] for _ in questions]
        n_best = self.config.n_best_per_window or n_best_per_window(top_k, passages)
        self.warm_up()
        assert self._loaded is not None
        clock = time.perf_counter()
        asked = truncate_questions(self._loaded.tokenizer, list(questions), self.config.max_question_len)
        self.timings["tokenize"] += time.perf_counter() - clock
        budget = batch_tokens(self.config, self._loaded.device.type)

        candidates: list[_Candidate] = []
        log_norms: dict[int, list[float]] = defaultdict(list)  # per pair
        progress = tqdm(total=len(pairs), unit="passage", desc="reading", file=sys.stderr, disable=not show_progress)
        launched: deque[_Launched] = deque()  # at most one batch ahead with overlap, none without
        for first in range(0, len(pairs), _CHUNK_PAIRS):
            clock = time.perf_counter()
            chunk = pairs[first : first + _CHUNK_PAIRS]
            windows = make_windows(
                self._loaded.tokenizer,
                [asked[q] for q, _ in chunk],
                [doc.content or "" for _, doc in chunk],
                self.config.max_seq_len,
                self.config.doc_stride,
                first_pair=first,
            )
            texts = {first + i: doc.content or "" for i, (_, doc) in enumerate(chunk)}
            words = PassageWords(self._loaded.tokenizer, texts)
            self.timings["tokenize"] += time.perf_counter() - clock
            for batch in pack([len(w.input_ids) for w in windows], budget, self.config.max_batch_size):
                launched.append(self._launch([windows[i] for i in batch], texts, words, n_best))
                while len(launched) > (1 if self.overlap else 0):
                    self._collect(launched.popleft(), candidates, log_norms)
            progress.update(len(chunk))
        while launched:
            self._collect(launched.popleft(), candidates, log_norms)
        progress.close()
        clock = time.perf_counter()
        answers = _answers(list(questions), pairs, candidates, log_norms, top_k)
        self.timings["answers"] += time.perf_counter() - clock
        return answers

    def _launch(self, windows: list[Window], texts: dict[int, str], words: PassageWords, n_best: int) -> _Launched:
        """Queue the forward pass and span decoding of one batch; its spans start back to the CPU."""
        assert self._loaded is not None
        loaded = self._loaded
        clock = time.perf_counter()
        ids, attention, segments, context = _batch_tensors(windows, loaded.pad_id)
        with torch.inference_mode():
            sent = to_device([ids, attention, context, *([segments] if loaded.segment_ids else [])], loaded.device, self.pinned_transfers)
            inputs = {"input_ids": sent[0], "attention_mask": sent[1]}
            if loaded.segment_ids:
                inputs["token_type_ids"] = sent[3]
            output = loaded.model(**inputs)
            spans = best_spans(output.start_logits, output.end_logits, sent[2], self.config.max_answer_len, n_best)
            back = to_host([spans.scores, spans.starts, spans.ends, spans.log_norm], asynchronous=self.overlap)
        self.timings["model"] += time.perf_counter() - clock
        return _Launched(windows, texts, words, back)

    def _collect(self, launched: _Launched, candidates: list[_Candidate], log_norms: dict[int, list[float]]) -> None:
        """Wait for a launched batch's spans and map them to characters of their passages."""
        clock = time.perf_counter()
        # One transfer per batch; then only plain Python numbers per span.
        scores, starts, ends, norms = launched.spans.lists()
        waited = time.perf_counter()
        self.timings["model"] += waited - clock
        for window, norm, row_scores, row_starts, row_ends in zip(launched.windows, norms, scores, starts, ends):
            log_norms[window.pair].append(norm)
            text = launched.texts[window.pair]
            for score, s, e in zip(row_scores, row_starts, row_ends):
                if score == -math.inf:
                    break  # fewer valid spans than n_best; the rest are -inf too
                chars = char_span(window, text, s, e, launched.words)
                if chars is not None:
                    candidates.append(_Candidate(window.pair, chars[0], chars[1], score))
        self.timings["spans"] += time.perf_counter() - waited


def n_best_per_window(top_k: int, passages: Sequence[Sequence[Document]]) -> int:
    """Spans a window keeps: 2 x n + 10 (transformers' question-answering rule), n being the
    answers one passage gives (_answers takes top_k evenly across a question's passages).

    With 20 passages and 200 answers that is 30 a window, not the 410 that the question's
    whole top_k would ask of every window, and each kept span costs Python time.
    """
    per_passage = max(-(-top_k // sum(1 for doc in docs if doc.content)) for docs in passages if any(doc.content for doc in docs))
    return 2 * per_passage + 10


def _batch_tensors(windows: list[Window], pad_id: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input ids, attention mask, segment ids and passage mask of windows, padded to the longest.

    Filled row by row in numpy (single-threaded, no per-row tensor) and handed to torch without a copy.
    """
    shape = (len(windows), max(len(w.input_ids) for w in windows))
    ids = np.full(shape, pad_id, dtype=np.int64)
    attention = np.zeros(shape, dtype=np.int64)
    segments = np.zeros(shape, dtype=np.int64)
    context = np.zeros(shape, dtype=np.bool_)
    for row, window in enumerate(windows):
        n = len(window.input_ids)
        ids[row, :n] = window.input_ids
        attention[row, :n] = 1
        segments[row, :n] = window.type_ids
        context[row, :n] = window.context
    return torch.from_numpy(ids), torch.from_numpy(attention), torch.from_numpy(segments), torch.from_numpy(context)


def _answers(
    questions: list[str],
    pairs: list[tuple[int, Any]],
    candidates: list[_Candidate],
    log_norms: dict[int, list[float]],
    top_k: int,
) -> list[list[Answer]]:
    """Group candidates by question; probabilities are normalised over all spans read for it.

    Within a passage, candidates with the same text (ignoring case) are one answer whose
    probability is their sum, kept at the position of the best of them. The top_k answers
    of a question are taken evenly across its passages: every passage's best, then every
    passage's second best, and so on (better first within each round). Raw scores do not
    compare across passages (issue 13), so a cut by them alone would leave the ranking
    passages it never sees; with top_k = n x passages, each passage gives its n best.
    They are returned best first.
    """
    by_question: dict[int, list[int]] = defaultdict(list)
    for pair, (q, _) in enumerate(pairs):
        by_question[q].append(pair)
    per_pair: dict[int, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        per_pair[candidate.pair].append(candidate)

    results: list[list[Answer]] = []
    for q, question in enumerate(questions):
        norms = [n for pair in by_question.get(q, []) for n in log_norms.get(pair, [])]
        log_z = torch.logsumexp(torch.tensor(norms, dtype=torch.float64), 0).item() if norms else math.inf
        rounds: list[tuple[int, float, float, _Candidate]] = []  # (place in its passage, -probability, -score, candidate)
        for pair in by_question.get(q, []):
            passage = pairs[pair][1]
            merged: dict[str, list[Any]] = {}
            for c in sorted(per_pair.get(pair, []), key=lambda c: -c.score):
                probability = math.exp(c.score - log_z) if log_z != math.inf else 0.0
                key = passage.content[c.start : c.end].lower()
                if key in merged:
                    merged[key][1] += probability
                else:
                    merged[key] = [c, probability]
            best_first = sorted(merged.values(), key=lambda m: (-m[1], -m[0].score))
            rounds.extend((place, -p, -c.score, c) for place, (c, p) in enumerate(best_first))
        chosen = sorted(sorted(rounds, key=lambda r: r[:3])[:top_k], key=lambda r: r[1:3])
        results.append(
            [
                Answer(
                    question,
                    pairs[c.pair][1].content[c.start : c.end],
                    c.score,
                    -negative_probability,
                    pairs[c.pair][1],
                    c.start,
                    c.end,
                    _logsumexp(log_norms[c.pair]),
                )
                for _, negative_probability, _, c in chosen
            ]
        )
    return results


def _logsumexp(values: list[float]) -> float:
    return torch.logsumexp(torch.tensor(values, dtype=torch.float64), 0).item()
