"""The rules of a question and of filters, each defined once.

`QA` applies them (with `store.errors.check_count` for counts); the shells (CLI, HTTP API,
batch jobs) translate the exceptions and never re-check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from store.errors import DocqaError, StoreError

if TYPE_CHECKING:
    from store.document_store import SQLiteDocumentStore

    from pipeline.config import Config

# What "the question is empty" means, as a regular expression for schemas (the HTTP API's
# OpenAPI `pattern`): a character that str.strip() keeps. The class lists exactly the
# characters of str.isspace() (tests/test_qa.py proves it over every code point), written
# with escapes that ECMA-262, Python's re and Rust's regex read alike.
NON_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


class QuestionError(DocqaError):
    """A question that cannot be asked: empty, too long, or none given.

    `index` is the question's position in a batch (None for a rule on the batch as a whole).
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class FilterError(DocqaError):
    """Filters that are malformed, or that the configured retriever cannot apply."""


def check_question(question: str, max_chars: int, index: int | None = None) -> None:
    """A question must hold a word and be at most `max_chars` characters long."""
    if not question.strip():
        raise QuestionError("the question is empty", index)
    if len(question) > max_chars:
        raise QuestionError(f"the question is {len(question)} characters long, more than {max_chars}", index)


def check_questions(questions: list[str], max_chars: int, most: int | None = None) -> None:
    """Every question of a batch, and the batch's size (at least one, at most `most`)."""
    if not questions:
        raise QuestionError("no questions given")
    if most is not None and len(questions) > most:
        raise QuestionError(f"{len(questions)} questions, more than {most}")
    for index, question in enumerate(questions):
        check_question(question, max_chars, index)


class NoMatchingFileError(FilterError):
    """Path patterns that match no indexed file."""


def anchor_patterns(patterns: Sequence[str], base: str | None) -> list[str]:
    """Path globs as a shell reads them: a relative pattern is taken from folder `base`, an absolute one as it is.

    Indexed files are known by absolute path, so `examples/*` run from /home/me means
    /home/me/examples/*, and `reports/` every file under /home/me/reports. Without `base`
    (a caller with no current folder) patterns are kept.
    """
    if base is None:
        return list(patterns)
    # Glob characters in the folder's own name stand for themselves.
    escaped = re.sub(r"([*?\[])", r"[\1]", base)
    # "reports/" is the folder: every file under it.
    return [(p if os.path.isabs(p) else os.path.normpath(os.path.join(escaped, p))) + ("/*" if p.endswith("/") else "") for p in patterns]


class EmptyIndexError(StoreError):
    """The database holds no passages yet."""


def check_has_passages(store: SQLiteDocumentStore) -> None:
    if not store.has_passages():
        raise EmptyIndexError(f"the database {store.path} holds no passages: run `docqa index PATH` first")


def check_ready(config: Config) -> None:
    """What asking needs besides the model's weights, checked in a second without loading torch.

    The database exists and holds passages, and reader.model can be had (a folder that exists,
    the Hugging Face cache, or a hub that answers): a command refuses at once instead of after
    the seconds it takes to load the model.
    """
    from store.document_store import SQLiteDocumentStore

    from pipeline.hub import locate

    store = SQLiteDocumentStore(config.store.path, create=False)
    try:
        check_has_passages(store)
    finally:
        store.close()
    locate(config.reader.model)
