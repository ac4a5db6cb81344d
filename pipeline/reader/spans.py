"""Token spans -> character spans of the passage, in whole words as the model's tokenizer sees them.

An answer never starts or ends inside a word, nor with whitespace, for any tokenizer:
- within a window, the span's first and last tokens widen to their words (as transformers'
  question-answering pipeline does with `align_to_words`); offsets are the tokenizer's, into
  the original passage, also where it lower-cases or strips accents;
- a window that starts or ends inside the passage may hold only part of its first or last
  word: such a word is completed from the words of the whole passage, tokenized alone (the
  pre-tokenizer splits a passage the same way alone or in a pair), once per passage and only
  when a span needs it;
- an answer never starts just after, or at, an apostrophe between letters: BERT's and
  RoBERTa's pre-tokenizers split "society's" and "O'Brien" at the apostrophe, and a span
  starting at "s" or "Brien" starts inside what a reader sees as one word. Such a start
  moves back to the word before the apostrophe. The end is left alone: "society" out of
  "society's" is a whole answer (SQuAD's gold answers end so);
- whitespace at either end is dropped: byte-level BPE tokenizers (RoBERTa, GPT-2) have
  whitespace tokens, and some keep a token's leading space in its offsets (trim_offsets
  false). A span of whitespace only is no answer (None).
"""

from __future__ import annotations

from typing import Any

from pipeline.reader.features import Window

APOSTROPHES = "'\u2019"  # ' and ’


class PassageWords:
    """The tokenizer's words of whole passages, tokenized on first use (see the module docstring)."""

    def __init__(self, tokenizer: Any, texts: dict[int, str]) -> None:
        self._tokenizer = tokenizer
        self._texts = texts
        self._encodings: dict[int, Any] = {}

    def word_at(self, pair: int, char: int) -> tuple[int, int] | None:
        """Character span of the word of passage `pair` that holds character `char`."""
        encoding = self._encodings.get(pair)
        if encoding is None:
            encoding = self._tokenizer(self._texts[pair], add_special_tokens=False).encodings[0]
            self._encodings[pair] = encoding
        word = encoding.char_to_word(char)
        return None if word is None else encoding.word_to_chars(word)


def char_span(window: Window, text: str, start_token: int, end_token: int, words: PassageWords) -> tuple[int, int] | None:
    """Character span in `text` of tokens start..end of `window`, widened to whole words and stripped."""
    encoding = window.encoding
    start_word, end_word = encoding.token_to_word(start_token), encoding.token_to_word(end_token)
    start_chars = encoding.word_to_chars(start_word, sequence_index=1) if start_word is not None else None
    end_chars = encoding.word_to_chars(end_word, sequence_index=1) if end_word is not None else None
    start = start_chars[0] if start_chars is not None else encoding.offsets[start_token][0]
    end = end_chars[1] if end_chars is not None else encoding.offsets[end_token][1]
    if start_word is not None and start_word == window.cut_first_word:
        whole = words.word_at(window.pair, start)
        if whole is not None:
            start = min(start, whole[0])
    start = _before_apostrophes(text, start, window.pair, words)
    if end_word is not None and end_word == window.cut_last_word and end > start:
        whole = words.word_at(window.pair, end - 1)
        if whole is not None:
            end = max(end, whole[1])
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _joined_by_apostrophe(text: str, at: int) -> bool:
    """Whether text[at] is an apostrophe with a letter or digit on both sides."""
    return 0 < at < len(text) - 1 and text[at] in APOSTROPHES and text[at - 1].isalnum() and text[at + 1].isalnum()


def _before_apostrophes(text: str, start: int, pair: int, words: PassageWords) -> int:
    """`start`, moved back over apostrophes between letters to the start of the word they join."""
    while True:
        if _joined_by_apostrophe(text, start):
            before = start - 1
        elif start >= 2 and _joined_by_apostrophe(text, start - 1):
            before = start - 2
        else:
            return start
        whole = words.word_at(pair, before)
        if whole is None or whole[0] >= start:
            return start
        start = whole[0]
