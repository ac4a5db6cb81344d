"""The question-answering pipeline: retrieve passages, read them, rank answers across documents.

`QA.ask_batch(questions)` is the real path: every question is retrieved, then all
(question, passage) pairs go through the reader's batch path in one stream, then each
question's answers are ranked. `ask(q)` is `ask_batch([q])[0]`. `QA.haystack_pipeline()`
wires the same retriever, reader and ranking as a `haystack.Pipeline`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from store import haystack_compat  # noqa: F401  (Haystack without torch)
from haystack import Document, Pipeline, component
from haystack.dataclasses import ExtractedAnswer

from store.document_store import SQLiteDocumentStore
from store.errors import DocqaError, StoreError

from pipeline.answers import Answer
from pipeline.config import Config, load_config
from pipeline.ranking import Ranking, rank
from pipeline.retriever import BM25Retriever, RankBM25Retriever

logger = logging.getLogger(__name__)


class QuestionError(DocqaError):
    """A question that cannot be asked (empty, or too long)."""


class EmptyIndexError(StoreError):
    """The database holds no passages yet."""


@component
class AnswerRanker:
    """rank() as a Haystack component: ExtractedAnswers in, merged and ranked answers out."""

    def __init__(self, top_k: int = 5, retrieval_weight: float = 0.3, min_score: float = 0.0, context_chars: int = 200) -> None:
        self.top_k, self.retrieval_weight, self.min_score, self.context_chars = top_k, retrieval_weight, min_score, context_chars

    @component.output_types(ranking=Ranking)
    def run(self, query: str, answers: list[ExtractedAnswer]) -> dict[str, Any]:
        spans = [Answer.from_extracted_answer(a) for a in answers]
        ranking = rank(
            query, spans, top_k=self.top_k, retrieval_weight=self.retrieval_weight, min_score=self.min_score, context_chars=self.context_chars
        )
        return {"ranking": ranking}


class QA:
    """Question answering over one docqa database, configured by a `Config`."""

    def __init__(self, config: Config, store: SQLiteDocumentStore | None = None) -> None:
        from pipeline.reader import Reader

        self.config = config
        self.store = store if store is not None else SQLiteDocumentStore(config.store.path, create=False)
        self.retriever: BM25Retriever | RankBM25Retriever
        if config.retriever.backend == "fts5":
            self.retriever = BM25Retriever(self.store, top_k=config.retriever.top_k, max_postings=config.retriever.max_postings)
        else:
            self.retriever = RankBM25Retriever(self.store, top_k=config.retriever.top_k)
        self.reader = Reader(config.reader)

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
        paths: list[str] | None = None,
        file_ids: list[int] | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Ranking]:
        """Ranked answers for each question, in order.

        `retrieve_k` passages are read per question (retriever.top_k when None); `paths`
        (glob patterns), `file_ids` and Haystack `filters` restrict retrieval (FTS5 backend).
        """
        top_k = self.config.ask.top_k if top_k is None else top_k
        retrieve_k = self.config.retriever.top_k if retrieve_k is None else retrieve_k
        if top_k < 1 or retrieve_k < 1:
            raise ValueError(f"top_k and retrieve_k must be >= 1, got {top_k} and {retrieve_k}")
        for question in questions:
            self.check_question(question)
        self.check_not_empty()
        passages = [self.retrieve(q, retrieve_k, paths=paths, file_ids=file_ids, filters=filters) for q in questions]
        return self.answer(questions, passages, top_k, show_progress)

    def answer(self, questions: Sequence[str], passages: list[list[Document]], top_k: int, show_progress: bool = False) -> list[Ranking]:
        """Ranked answers for each question from the passages retrieved for it (ask_batch's second half)."""
        # Enough candidates per question for the merging in rank() to see every likely answer.
        read = self.reader.read_batch(list(questions), passages, top_k=4 * top_k + 10, show_progress=show_progress)
        ask = self.config.ask
        return [
            rank(q, answers, top_k=top_k, retrieval_weight=ask.retrieval_weight, min_score=ask.min_score, context_chars=ask.context_chars)
            for q, answers in zip(questions, read)
        ]

    def retrieve(
        self,
        question: str,
        top_k: int,
        paths: list[str] | None = None,
        file_ids: list[int] | None = None,
        filters: dict[str, Any] | None = None,
    ) -> list[Document]:
        if isinstance(self.retriever, BM25Retriever):
            return self.retriever.run(question, top_k=top_k, filters=filters, paths=paths, file_ids=file_ids)["documents"]
        if paths or file_ids or filters:
            raise ValueError("file filters need retriever.backend fts5")
        return self.retriever.run(question, top_k=top_k)["documents"]

    def check_not_empty(self) -> None:
        if not self.store.has_passages():
            raise EmptyIndexError(f"the database {self.store.path} holds no passages: run `docqa index PATH` first")

    def check_question(self, question: str) -> None:
        if not question or not question.strip():
            raise QuestionError("the question is empty: ask something, e.g. docqa ask \"Who built the railway?\"")
        limit = self.config.ask.max_question_chars
        if len(question) > limit:
            raise QuestionError(f"the question is {len(question)} characters long, more than ask.max_question_chars ({limit})")

    def haystack_pipeline(self) -> Pipeline:
        """The retriever, reader and ranking as a haystack.Pipeline (query in, ranking out).

        Run it with {"retriever": {"query": q}, "reader": {"query": q}, "ranker": {"query": q}}.
        """
        from pipeline.reader.component import ExtractiveReader

        reader = ExtractiveReader(reader=self.reader)  # shares this QA's loaded model
        ask = self.config.ask
        pipe = Pipeline()
        pipe.add_component("retriever", self.retriever)
        pipe.add_component("reader", reader)
        pipe.add_component("ranker", AnswerRanker(ask.top_k, ask.retrieval_weight, ask.min_score, ask.context_chars))
        pipe.connect("retriever.documents", "reader.documents")
        pipe.connect("reader.answers", "ranker.answers")
        return pipe
