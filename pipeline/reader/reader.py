"""The reader: many questions, each with its passages, read through the model in batches.

`read_batch` is the real path and `read` is `read_batch` of one question. The (question,
passage) pairs of all questions are flattened into one stream (DrQA's process_batch),
cut into windows, sorted by length and packed into token-budgeted batches with dynamic
padding; the n best spans of each window are kept, mapped to characters and widened to
whole words, and put back with their question. Pairs are processed in chunks, so memory
holds one chunk's windows and the candidates, never every window's tensors.
"""

from __future__ import annotations

import logging
import math
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from tqdm import tqdm

from pipeline.answers import Answer
from pipeline.config import ReaderConfig
from pipeline.reader.decode import best_spans
from pipeline.reader.features import Window, make_windows, pack, truncate_questions
from pipeline.reader.loading import LoadedModel, load

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


class Reader:
    """Extracts answer spans with a SQuAD-trained extractive QA model (see ReaderConfig)."""

    def __init__(self, config: ReaderConfig | None = None) -> None:
        self.config = config if config is not None else ReaderConfig()
        self._loaded: LoadedModel | None = None

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
        top_k = self.config.top_k if top_k is None else top_k
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        n_best = self.config.n_best_per_window if self.config.n_best_per_window is not None else 2 * top_k + 10
        pairs = [(q, doc) for q, docs in enumerate(passages) for doc in docs if doc.content]
        if not pairs:
            return [[] for _ in questions]
        self.warm_up()
        assert self._loaded is not None
        asked = truncate_questions(self._loaded.tokenizer, list(questions), self.config.max_question_len)

        candidates: list[_Candidate] = []
        log_norms: dict[int, list[float]] = defaultdict(list)  # per pair
        progress = tqdm(total=len(pairs), unit="passage", desc="reading", file=sys.stderr, disable=not show_progress)
        for first in range(0, len(pairs), _CHUNK_PAIRS):
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
            for batch in pack([len(w.input_ids) for w in windows], self.config.batch_tokens, self.config.max_batch_size):
                self._read_windows([windows[i] for i in batch], texts, n_best, candidates, log_norms)
            progress.update(len(chunk))
        progress.close()
        return _answers(list(questions), pairs, candidates, log_norms, top_k)

    def _read_windows(
        self,
        windows: list[Window],
        texts: dict[int, str],
        n_best: int,
        candidates: list[_Candidate],
        log_norms: dict[int, list[float]],
    ) -> None:
        assert self._loaded is not None
        longest = max(len(w.input_ids) for w in windows)
        pad_id = self._loaded.tokenizer.pad_token_id or 0
        ids = torch.full((len(windows), longest), pad_id, dtype=torch.long)
        attention = torch.zeros((len(windows), longest), dtype=torch.long)
        segments = torch.zeros((len(windows), longest), dtype=torch.long)
        context = torch.zeros((len(windows), longest), dtype=torch.bool)
        for row, window in enumerate(windows):
            n = len(window.input_ids)
            ids[row, :n] = torch.tensor(window.input_ids)
            attention[row, :n] = 1
            segments[row, :n] = torch.tensor(window.type_ids)
            context[row, :n] = torch.tensor(window.context)
        device = self._loaded.device
        with torch.inference_mode():
            inputs = {"input_ids": ids.to(device), "attention_mask": attention.to(device)}
            if self._loaded.segment_ids:
                inputs["token_type_ids"] = segments.to(device)
            output = self._loaded.model(**inputs)
            spans = best_spans(output.start_logits, output.end_logits, context.to(device), self.config.max_answer_len, n_best)
        scores, starts, ends = spans.scores.tolist(), spans.starts.tolist(), spans.ends.tolist()
        for row, window in enumerate(windows):
            log_norms[window.pair].append(float(spans.log_norm[row]))
            for score, s, e in zip(scores[row], starts[row], ends[row]):
                if score == -math.inf:
                    break  # fewer valid spans than n_best; the rest are -inf too
                start, end = _word_aligned_chars(window.encoding, s, e)
                start, end = _widen_across_window_edges(texts[window.pair], start, end)
                candidates.append(_Candidate(window.pair, start, end, score))


def _word_aligned_chars(encoding: Any, start_token: int, end_token: int) -> tuple[int, int]:
    """Character span of tokens start..end, widened to the words they are part of.

    The same widening as transformers' question-answering pipeline (align_to_words), so an
    answer never starts or ends inside a word; offsets are the tokenizer's, into the
    original passage text, also for tokenizers that lower-case and strip accents.
    """
    start_word, end_word = encoding.token_to_word(start_token), encoding.token_to_word(end_token)
    if start_word is not None and end_word is not None:
        start_chars = encoding.word_to_chars(start_word, sequence_index=1)
        end_chars = encoding.word_to_chars(end_word, sequence_index=1)
        if start_chars is not None and end_chars is not None:
            return start_chars[0], end_chars[1]
    return encoding.offsets[start_token][0], encoding.offsets[end_token][1]


def _widen_across_window_edges(text: str, start: int, end: int) -> tuple[int, int]:
    """Finish words that a window boundary cut: a window holds only part of its first and last word."""
    while start > 0 and _in_word(text[start - 1]) and _in_word(text[start]):
        start -= 1
    while end < len(text) and _in_word(text[end - 1]) and _in_word(text[end]):
        end += 1
    return start, end


def _in_word(char: str) -> bool:
    """Whether BERT's pre-tokenizer keeps `char` inside a word: not space, punctuation or CJK."""
    if char.isspace():
        return False
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return False  # ASCII punctuation and symbols, as BERT's basic tokenizer treats them
    if unicodedata.category(char).startswith("P"):
        return False
    return not _is_cjk(code)


def _is_cjk(code: int) -> bool:
    # The CJK blocks that BERT's basic tokenizer splits into one word per character.
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


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
