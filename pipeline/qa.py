"""The question-answering pipeline: retrieve passages, read them, rank answers across documents.

`QA` owns the contract of "ask a question": every check (the questions, top_k, retrieve_k,
filters, and the ceilings a shell passes in) raises a specific DocqaError, and one private
step reads and ranks, with the reader's candidate count defined once (`candidates`).
`ask_batch(questions)` is the real path and `ask(q)` is `ask_batch([q])[0]`; `run()` takes
options checked beforehand by `options()` (the HTTP API checks a request before it queues
it); `answer()` reads passages the caller already has (evaluation).
`haystack_pipeline()` wires the same retriever, reader and ranking as a `haystack.Pipeline`
and gives exactly `ask`'s answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store import haystack_compat  # noqa: F401  (Haystack without torch)
from haystack import Document, Pipeline, component
from haystack.dataclasses import ExtractedAnswer

from store.document_store import SQLiteDocumentStore
from store.errors import check_count

from pipeline.answers import Answer
from pipeline.checks import (
    EmptyIndexError,
    FilterError,
    NoMatchingFileError,
    anchor_patterns,
    check_has_passages,
    check_question,
    check_questions,
)
from pipeline.config import AskConfig, Config, load_config
from pipeline.ranking import CANDIDATES_PER_PASSAGE, TERM_PASSAGES, Ranking, WordCounts, rank, word_counts
from pipeline.retriever import make_retriever

if TYPE_CHECKING:
    from pipeline.reader.ray_pool import RayReader
    from pipeline.reader.reader import Reader

__all__ = ["QA", "AskOptions", "AnswerRanker", "EmptyIndexError"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AskOptions:
    """What questions asked together share, checked (QA.options); hashable, so a micro-batcher can group by it."""

    top_k: int
    retrieve_k: int
    paths: tuple[str, ...] = ()
    file_ids: tuple[int, ...] = ()
    filters_json: str | None = None  # Haystack filters, as canonical JSON (dicts are not hashable)

    @property
    def filters(self) -> dict[str, Any] | None:
        return None if self.filters_json is None else json.loads(self.filters_json)


@component
class AnswerRanker:
    """rank() as a Haystack component: ExtractedAnswers in, merged and ranked answers out.

    `documents`: the passages retrieved for the query, best first, whose words weigh the
    query's (ranking.word_counts); without them, the answers' passages.
    """

    def __init__(self, settings: AskConfig, top_k: int) -> None:
        self.settings, self.top_k = settings, top_k

    @component.output_types(ranking=Ranking)
    def run(self, query: str, answers: list[ExtractedAnswer], documents: list[Document] | None = None) -> dict[str, Any]:
        spans = [Answer.from_extracted_answer(a) for a in answers]
        counts = None if documents is None else word_counts(query, documents)
        return {"ranking": _rank(query, spans, self.top_k, self.settings, counts)}


@component
class FirstDocuments:
    """The first `top_k` documents (the pipeline retrieves more than it reads: QA.retrieve)."""

    def __init__(self, top_k: int) -> None:
        self.top_k = top_k

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        return {"documents": documents[: self.top_k]}


class QA:
    """Question answering over one docqa database, configured by a `Config`."""

    def __init__(self, config: Config, store: SQLiteDocumentStore | None = None, reader: Reader | RayReader | None = None) -> None:
        """`reader`: another reader with Reader's read_batch (a RayReader reads on a Ray cluster)."""
        self.config = config
        self.store = store if store is not None else SQLiteDocumentStore(config.store.path, create=False)
        self.retriever = make_retriever(self.store, config.retriever)
        self._reader = reader

    @property
    def reader(self) -> Reader | RayReader:
        """The reader, made on first use: a QA that only checks or retrieves never imports torch."""
        if self._reader is None:
            from pipeline.reader import Reader

            self._reader = Reader(self.config.reader)
        return self._reader

    @classmethod
    def from_config(cls, path: str | Path | None = None, *, db: str | None = None) -> QA:
        """A QA over the database of the configuration at `path` (defaults when None), or `db`."""
        return cls(load_config(path).with_db(db))

    def ask(self, question: str, top_k: int | None = None, retrieve_k: int | None = None, **filters: Any) -> Ranking:
        return self.ask_batch([question], top_k=top_k, retrieve_k=retrieve_k, **filters)[0]

    def ask_batch(
        self,
        questions: Sequence[str],
        top_k: int | None = None,
        retrieve_k: int | None = None,
        show_progress: bool = False,
        paths: Sequence[str] | None = None,
        file_ids: Sequence[int] | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Ranking]:
        """Ranked answers for each question, in order.

        `top_k` answers per question (ask.top_k when None) from `retrieve_k` passages read per
        question (retriever.top_k when None); `paths` (glob patterns), `file_ids` and
        Haystack `filters` restrict retrieval (FTS5 backend).
        """
        options = self.options(top_k=top_k, retrieve_k=retrieve_k, paths=paths, file_ids=file_ids, filters=filters)
        return self.run(questions, options, show_progress)

    def options(
        self,
        top_k: int | None = None,
        retrieve_k: int | None = None,
        paths: Sequence[str] | None = None,
        file_ids: Sequence[int] | None = None,
        filters: dict[str, Any] | None = None,
        max_top_k: int | None = None,
        base: str | None = None,
    ) -> AskOptions:
        """Checked options for run(); `max_top_k` is a ceiling a shell may impose (the HTTP API's).

        `base`: the folder relative `paths` patterns are taken from (the CLI's current folder).
        """
        paths = anchor_patterns(paths or (), base)
        top_k = check_count("top_k", self.config.ask.top_k if top_k is None else top_k, max_top_k)
        retrieve_k = check_count("retrieve_k", self.config.retriever.top_k if retrieve_k is None else retrieve_k)
        if filters is not None:
            try:
                self.store.check_filters(filters)
            except Exception as exc:  # Haystack's FilterError, raised for any malformed filter
                raise FilterError(str(exc)) from None
        self.retriever.check_restrictions(filters, list(paths or ()), list(file_ids or ()))
        filters_json = None if filters is None else json.dumps(filters, sort_keys=True)
        return AskOptions(top_k, retrieve_k, tuple(paths or ()), tuple(file_ids or ()), filters_json)

    def check_paths(self, options: AskOptions) -> None:
        """NoMatchingFileError when path patterns restrict the search to no indexed file at all."""
        if options.paths and not self.store.count_files_matching(options.paths):
            shown = ", ".join(repr(p) for p in options.paths)
            raise NoMatchingFileError(
                f"no indexed file matches {shown} (a pattern like '*/name.pdf' finds a name in any folder): "
                "`docqa files` lists the indexed files"
            )

    def check_question(self, question: str) -> None:
        """QuestionError when `question` cannot be asked (empty, longer than ask.max_question_chars)."""
        check_question(question, self.config.ask.max_question_chars)

    def check_questions(self, questions: Sequence[str], most: int | None = None) -> None:
        """Every question of a batch and its size (at least one; at most `most`, a shell's ceiling)."""
        check_questions(list(questions), self.config.ask.max_question_chars, most)

    def run(self, questions: Sequence[str], options: AskOptions, show_progress: bool = False) -> list[Ranking]:
        """ask_batch with options from options(): check the questions, retrieve, read and rank."""
        self.check_questions(questions)
        self.check_not_empty()
        retrieved = [self.retrieve(q, options) for q in questions]
        return self._read_and_rank(questions, retrieved, options.top_k, show_progress, options.retrieve_k)

    def answer(
        self,
        questions: Sequence[str],
        passages: Sequence[Sequence[Document]],
        top_k: int | None = None,
        show_progress: bool = False,
        retrieve_k: int | None = None,
    ) -> list[Ranking]:
        """Ranked answers for each question from passages the caller already has (one list per question, best first).

        The first `retrieve_k` passages of each list are read (all when None), and the first
        TERM_PASSAGES weigh the question's words: given the lists retrieve() returns and
        `retrieve_k`, `answer` ranks exactly as `ask`.
        """
        self.check_questions(questions)
        top_k = check_count("top_k", self.config.ask.top_k if top_k is None else top_k)
        return self._read_and_rank(questions, passages, top_k, show_progress, retrieve_k)

    def retrieve(self, question: str, options: AskOptions) -> list[Document]:
        """The passages retrieved for `question` under `options`, best first: the first
        `options.retrieve_k` are read, and at least TERM_PASSAGES weigh the question's words."""
        top_k = max(options.retrieve_k, TERM_PASSAGES)
        result = self.retriever.run(
            question, top_k=top_k, filters=options.filters, paths=list(options.paths) or None, file_ids=list(options.file_ids) or None
        )
        documents: list[Document] = result["documents"]
        return documents

    def check_not_empty(self) -> None:
        check_has_passages(self.store)

    def candidates(self, top_k: int, passages: int) -> int:
        """Answers the reader hands to the ranking per question, from `passages` passages read.

        reader.top_k, and never fewer than top_k, nor than the ranking's CANDIDATES_PER_PASSAGE
        from each passage (the reader takes them evenly across passages): the ranking merges
        equal answers across passages and weighs each passage's own candidates.
        """
        return max(self.config.reader.top_k, top_k, CANDIDATES_PER_PASSAGE * passages)

    def read(
        self, questions: Sequence[str], passages: Sequence[Sequence[Document]], top_k: int, depth: int, show_progress: bool = False
    ) -> list[list[Answer]]:
        """The reader's candidates for each question from its passages (at most `depth` each), as rank() needs them."""
        return self.reader.read_batch(list(questions), passages, top_k=self.candidates(top_k, depth), show_progress=show_progress)

    def rank(self, question: str, answers: list[Answer], top_k: int, counts: WordCounts | None = None) -> Ranking:
        """The ranking of read() candidates with the ask section's settings.

        `counts`: ranking.word_counts() of the passages retrieved (retrieve()); None counts the
        words in the answers' passages.
        """
        return _rank(question, answers, top_k, self.config.ask, counts)

    def _read_and_rank(
        self, questions: Sequence[str], retrieved: Sequence[Sequence[Document]], top_k: int, show_progress: bool, retrieve_k: int | None = None
    ) -> list[Ranking]:
        """Read the first `retrieve_k` of each question's passages (all when None) and rank their answers."""
        passages = retrieved if retrieve_k is None else [docs[:retrieve_k] for docs in retrieved]
        depth = max((len(p) for p in passages), default=0) if retrieve_k is None else retrieve_k
        read = self.read(questions, passages, top_k, depth, show_progress)
        counts = [word_counts(q, docs) for q, docs in zip(questions, retrieved)]
        return [self.rank(q, answers, top_k, c) for q, answers, c in zip(questions, read, counts)]

    def haystack_pipeline(self) -> Pipeline:
        """The retriever, reader and ranking as a new haystack.Pipeline (query in, ranking out).

        Fresh components on every call (a component belongs to one pipeline); the reader
        shares this QA's loaded model. Run it with
        {"retriever": {"query": q}, "reader": {"query": q}, "ranker": {"query": q}}.
        """
        from pipeline.reader.component import ExtractiveReader

        ask, retrieve_k = self.config.ask, self.config.retriever.top_k
        pipe = Pipeline()
        pipe.add_component("retriever", make_retriever(self.store, replace(self.config.retriever, top_k=max(retrieve_k, TERM_PASSAGES))))
        pipe.add_component("read", FirstDocuments(retrieve_k))
        reader_top_k = self.candidates(ask.top_k, retrieve_k)
        pipe.add_component("reader", ExtractiveReader(reader=self.reader, top_k=reader_top_k))
        pipe.add_component("ranker", AnswerRanker(ask, ask.top_k))
        pipe.connect("retriever.documents", "read.documents")
        pipe.connect("read.documents", "reader.documents")
        pipe.connect("retriever.documents", "ranker.documents")
        pipe.connect("reader.answers", "ranker.answers")
        return pipe


def _rank(question: str, answers: list[Answer], top_k: int, settings: AskConfig, counts: WordCounts | None) -> Ranking:
    """The ranking with the ask section's settings: the one place QA and AnswerRanker call rank()."""
    return rank(
        question,
        answers,
        top_k=top_k,
        retrieval_weight=settings.retrieval_weight,
        min_score=settings.min_score,
        context_chars=settings.context_chars,
        counts=counts,
    )
