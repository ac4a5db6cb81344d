"""Questions x passages -> token windows, and windows -> length-sorted batches.

Each (question, passage) pair becomes one or more windows of at most `max_seq_len` tokens
(`[CLS] question [SEP] passage part [SEP]`); a passage longer than one window is read in
windows overlapping by `doc_stride` tokens, so no part of it is skipped. Batches hold at most
`reader.batch_tokens` tokens, by device when it is null.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.config import ReaderConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    pair: int  # index of the (question, passage) pair it was cut from
    input_ids: list[int]
    type_ids: list[int]  # segment ids: 0 for the question, 1 for the passage (BERT-family models read them)
    context: list[bool]  # True for the passage's tokens (the only ones an answer may use)
    encoding: Any  # tokenizers.Encoding: character offsets and word boundaries of its tokens
    # The word ids of the window's first and last passage tokens where the window starts or
    # ends inside its passage (None at the passage's own start or end): the window may hold
    # only part of these words.
    cut_first_word: int | None = None
    cut_last_word: int | None = None


def truncate_questions(tokenizer: Any, questions: list[str], max_tokens: int) -> list[str]:
    """Cut questions longer than `max_tokens` tokens at a token boundary, with a warning."""
    encoded = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for question, offsets in zip(questions, encoded["offset_mapping"]):
        if len(offsets) > max_tokens:
            logger.warning("question longer than %d tokens (reader.max_question_len), truncated: %.80s...", max_tokens, question)
            question = question[: offsets[max_tokens - 1][1]]
        out.append(question)
    return out


def make_windows(
    tokenizer: Any, questions: list[str], passages: list[str], max_seq_len: int, doc_stride: int, first_pair: int = 0
) -> list[Window]:
    """Windows of the pairs (questions[i], passages[i]), numbered from `first_pair`."""
    encoded = tokenizer(
        questions,
        passages,
        truncation="only_second",
        max_length=max_seq_len,
        stride=doc_stride,
        return_overflowing_tokens=True,
        padding=False,
    )
    windows = []
    pairs = encoded["overflow_to_sample_mapping"]
    for k, (encoding, pair) in enumerate(zip(encoded.encodings, pairs)):
        context = [sequence == 1 for sequence in encoding.sequence_ids]
        first_word = last_word = None
        if True in context:
            if k > 0 and pairs[k - 1] == pair:
                first_word = encoding.token_to_word(context.index(True))
            if k + 1 < len(pairs) and pairs[k + 1] == pair:
                last_word = encoding.token_to_word(len(context) - 1 - context[::-1].index(True))
        windows.append(Window(first_pair + pair, encoding.ids, encoding.type_ids, context, encoding, first_word, last_word))
    return windows


# Tokens per forward pass when reader.batch_tokens is null, by device type (BENCHMARKS.md,
# "Batch size on a CPU"). A GPU is fed large batches; on a CPU a batch of 16,384 tokens reads
# 1.3-1.5x slower than batches of 1,024 (its activations outgrow the caches; fp32 and bf16
# alike), and 1,024 reads 1.1x faster than one question's 2 windows at a time.
BATCH_TOKENS = {"cpu": 1024}
BATCH_TOKENS_ACCELERATOR = 16384


def batch_tokens(config: ReaderConfig, device_type: str) -> int:
    """reader.batch_tokens of a ReaderConfig, or the device's default when it is null (never under one window)."""
    if config.batch_tokens is not None:
        return int(config.batch_tokens)
    return max(config.max_seq_len, BATCH_TOKENS.get(device_type, BATCH_TOKENS_ACCELERATOR))


def describe_batch_tokens(config: ReaderConfig) -> str:
    """What reader.batch_tokens is on this machine, for `docqa config` (no torch import: with
    device auto, both cases are named)."""
    if config.batch_tokens is not None:
        return str(config.batch_tokens)
    if config.device == "auto":
        return f"{batch_tokens(config, 'cpu')} on the CPU; {batch_tokens(config, 'cuda')} if a GPU is found (null: by device)"
    device_type = "cuda" if config.device.startswith("cuda") else config.device
    return f"{batch_tokens(config, device_type)} (null: by device)"


def pack(lengths: list[int], batch_tokens: int, max_batch_size: int) -> list[list[int]]:
    """Group indexes into batches, longest first, so that batch size x longest length <= batch_tokens.

    Sorting by length keeps padding small: each batch is padded only to its own longest window.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        if current and ((len(current) + 1) * longest > batch_tokens or len(current) == max_batch_size):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches
